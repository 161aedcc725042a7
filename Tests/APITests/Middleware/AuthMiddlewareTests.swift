// Bearer auth: constant-time comparison and which routes it guards.
@testable import API
import Logging
import Testing

@Suite struct AuthMiddlewareTests {
    @Test func constantTimeEqual() {
        #expect(AuthMiddleware.constantTimeEqual(Array("secret".utf8), Array("secret".utf8)))
        #expect(!AuthMiddleware.constantTimeEqual(Array("secret".utf8), Array("secreT".utf8)))
        #expect(!AuthMiddleware.constantTimeEqual(Array("secret".utf8), Array("secret1".utf8)))
        #expect(!AuthMiddleware.constantTimeEqual(Array("".utf8), Array("x".utf8)))
        #expect(AuthMiddleware.constantTimeEqual([], []))
    }

    @Test func guardsV1RoutesOnly() throws {
        var router = Router()
        router.use(AuthMiddleware(token: "0123456789abcdef"))
        router.add("GET", "/v1/x") { _, _ in HTTPResponse(status: 200) }
        router.add("GET", "/healthz") { _, _ in HTTPResponse(status: 200) }
        let context = RequestContext(requestID: "t", logger: Logger(label: "test"))
        #expect(router.respond(to: HTTPRequest(method: "GET", path: "/healthz"), context: context).status == 200)
        #expect(router.respond(to: HTTPRequest(method: "GET", path: "/v1/x"), context: context).status == 401)
        let wrongScheme = HTTPRequest(method: "GET", path: "/v1/x", headers: ["Authorization": "Basic 0123456789abcdef"])
        #expect(router.respond(to: wrongScheme, context: context).status == 401)
        let good = HTTPRequest(method: "GET", path: "/v1/x", headers: ["Authorization": "Bearer 0123456789abcdef"])
        #expect(router.respond(to: good, context: context).status == 200)
    }

    @Test(arguments: [false, true])
    func guardsMetricsOnlyWhenAsked(guardsMetrics: Bool) throws {
        var router = Router()
        router.use(AuthMiddleware(token: "0123456789abcdef", guardsMetrics: guardsMetrics))
        router.add("GET", "/metrics") { _, _ in HTTPResponse(status: 200) }
        router.add("GET", "/healthz") { _, _ in HTTPResponse(status: 200) }
        let context = RequestContext(requestID: "t", logger: Logger(label: "test"))
        let anonymous = HTTPRequest(method: "GET", path: "/metrics")
        #expect(router.respond(to: anonymous, context: context).status == (guardsMetrics ? 401 : 200))
        // A body sent without the token is refused from the head (never buffered) on any path but /healthz.
        #expect(router.refusal(ofHead: anonymous, router.resolve(method: "GET", path: "/metrics"), context: context) != nil)
        #expect(router.refusal(ofHead: HTTPRequest(method: "GET", path: "/healthz"), router.resolve(method: "GET", path: "/healthz"), context: context) == nil)
        let good = HTTPRequest(method: "GET", path: "/metrics", headers: ["Authorization": "Bearer 0123456789abcdef"])
        #expect(router.respond(to: good, context: context).status == 200)
        #expect(router.respond(to: HTTPRequest(method: "GET", path: "/healthz"), context: context).status == 200)
    }
}
