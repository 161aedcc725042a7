import Engine
import Foundation
import Logging
import Testing

// Every error kind maps to its status and a problem+json body, in the one mapping file.
@testable import API

@Suite struct ErrorMappingTests {
    static let context = RequestContext(requestID: "t", logger: Logger(label: "test"))

    @Test(arguments: [
        (EngineError.invalidArgument(field: "name", reason: "bad"), 400),
        (.deviceUnusable(path: "/x", reason: "small"), 400),
        (.volumeNotFound(name: "v"), 404),
        (.deviceNotFound(id: "d"), 404),
        (.volumeExists(name: "v"), 409),
        (.replicasExceedDevices(requested: 3, active: 2), 409),
        (.deviceForeign(path: "/x", reason: "r"), 409),
        (.deviceInDataDirectory(path: "/d/catalog.sqlite", dataDirectory: "/d"), 400),
        (.noSpace(.pool, needed: 2, available: 1), 507),
        (.noSpace(.volumeQuota, needed: 2, available: 1), 507),
        (.io(call: "pwrite", path: "/x", errno: 5), 503),
        (.patchTooLarge(length: 10, limit: 4), 413),
        (.cacheFull, 503),
        (.catalog("boom"), 500),
    ])
    func engineErrorsMapToStatuses(error: EngineError, status: Int) throws {
        let response = ErrorMapping.response(for: error, context: Self.context)
        #expect(response.status == status)
        #expect(response.header("Content-Type") == "application/problem+json")
        let problem = try JSONDecoder().decode(Problem.self, from: Data(response.body))
        #expect(problem.status == status)
        #expect(problem.detail == error.description)
        #expect(problem.type.hasPrefix("https://"))
    }

    @Test func httpErrorsCarryTheirHeaders() {
        let unauthorized = ErrorMapping.response(for: HTTPError.unauthorized("no"), context: Self.context)
        #expect(unauthorized.status == 401)
        #expect(unauthorized.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        let tooLarge = ErrorMapping.response(for: HTTPError.payloadTooLarge(limit: 10), context: Self.context)
        #expect(tooLarge.status == 413)
        let busy = ErrorMapping.response(for: EngineError.cacheFull, context: Self.context)
        #expect(busy.header("Retry-After") == "1")
    }

    @Test func unknownErrorsAre500() {
        struct Surprise: Error {}
        #expect(ErrorMapping.response(for: Surprise(), context: Self.context).status == 500)
    }
}
