import Foundation
import Logging
import Testing

// The router in-process: template matching, percent-decoding, 404, 405 + Allow, HEAD.
@testable import API

@Suite struct RouterTests {
    static func context() -> RequestContext { RequestContext(requestID: "t", logger: Logger(label: "test")) }

    static func router() -> Router {
        var router = Router()
        router.add("GET", "/v1/things/{name}") { _, context in HTTPResponse(status: 200, body: Array(context.parameter("name").utf8)) }
        router.add("DELETE", "/v1/things/{name}") { _, _ in .noContent() }
        router.add("GET", "/v1/things") { _, context in HTTPResponse(status: 200, body: Array(context.route.utf8)) }
        return router
    }

    @Test func headersAreFoundInAnyCase() {
        let request = HTTPRequest(method: "GET", path: "/", headers: ["X-Amz-Date": "20150830T123600Z", "range": "bytes=0-1"])
        #expect(request.header("x-amz-date") == "20150830T123600Z")
        #expect(request.header("X-AMZ-Date") == "20150830T123600Z")
        #expect(request.header("Range") == "bytes=0-1")
        #expect(request.header("if-match") == nil)
    }

    @Test func matchesTemplatesAndDecodesParameters() {
        let response = Self.router().respond(to: HTTPRequest(method: "GET", path: "/v1/things/a%2Fb%20c"), context: Self.context())
        #expect(response.status == 200)
        #expect(String(decoding: response.body, as: UTF8.self) == "a/b c")
    }

    @Test func remainderParametersTakeTheRestOfThePath() {
        var router = Self.router()
        router.add("GET", "/v1/things/{name}/items/{key...}") { _, context in
            HTTPResponse(status: 200, body: Array("\(context.parameter("name"))|\(context.parameter("key"))".utf8))
        }
        router.add("GET", "/v1/things/{name}/items") { _, _ in HTTPResponse(status: 204) }
        let cases: [(String, Int, String)] = [
            ("/v1/things/a/items/x", 200, "a|x"), ("/v1/things/a/items/x/y//z/", 200, "a|x/y//z/"), ("/v1/things/a/items/%2F", 200, "a|/"),
            ("/v1/things/a/items", 204, ""), ("/v1/things/a/items/", 404, ""), ("/v1/things//items/x", 404, ""), ("/v1/things/a/itemsx/y", 404, ""),
        ]
        for (path, status, body) in cases {
            let response = router.respond(to: HTTPRequest(method: "GET", path: path), context: Self.context())
            #expect(response.status == status, "\(path)")
            if status == 200 { #expect(String(decoding: response.body, as: UTF8.self) == body, "\(path)") }
        }
    }

    @Test func headIsServedByTheGetRoute() {
        #expect(Self.router().respond(to: HTTPRequest(method: "HEAD", path: "/v1/things"), context: Self.context()).status == 200)
    }

    @Test func unknownPathsAre404Problems() {
        for path in ["/v1/nothing", "/v1/things/", "/v1/things/x/y", "/"] {
            let response = Self.router().respond(to: HTTPRequest(method: "GET", path: path), context: Self.context())
            #expect(response.status == 404, "\(path)")
            #expect(response.header("Content-Type") == "application/problem+json")
        }
    }

    @Test func wrongMethodIs405WithAllow() {
        let response = Self.router().respond(to: HTTPRequest(method: "PUT", path: "/v1/things/x"), context: Self.context())
        #expect(response.status == 405)
        #expect(response.header("Allow") == "GET, DELETE, HEAD")
    }

    @Test func malformedPercentEncodingIs400() {
        let response = Self.router().respond(to: HTTPRequest(method: "GET", path: "/v1/things/%zz"), context: Self.context())
        #expect(response.status == 400)
    }

    @Test func percentDecoding() {
        #expect(PercentDecoding.decode("a%20b") == "a b")
        #expect(PercentDecoding.decode("a+b") == "a+b")
        #expect(PercentDecoding.decode("a+b", plusIsSpace: true) == "a b")
        #expect(PercentDecoding.decode("%e2%82%ac") == "€")
        #expect(PercentDecoding.decode("%ff") == nil)
        #expect(PercentDecoding.decode("%4") == nil)
    }

    final class CountedSink: RequestBodySink, @unchecked Sendable {
        func consume(_ bytes: UnsafeRawBufferPointer) throws {}
        func finish() throws -> HTTPResponse { .noContent() }
        func abort() {}
    }

    @Test func anOpenedSinkLivesOnlyAsLongAsItsUser() throws {
        var router = Router()
        router.addStreaming("PUT", "/v1/sinks/{name}") { _, _ in CountedSink() }
        weak var opened: CountedSink?
        do {
            guard case .sink(let sink, let context) = router.open(HTTPRequest(method: "PUT", path: "/v1/sinks/a"), context: Self.context()) else {
                Issue.record("the streaming route did not open a sink")
                return
            }
            opened = sink as? CountedSink
            #expect(opened != nil)
            #expect(context.parameter("name") == "a")
            #expect(try sink.finish().status == 204)
        }
        #expect(opened == nil, "the router (or the context it handed back) keeps the sink alive")
    }
}
