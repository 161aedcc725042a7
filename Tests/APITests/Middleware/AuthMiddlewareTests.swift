import Logging
import Testing

// Bearer auth: constant-time comparison and which routes it guards.
@testable import API

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
        #expect(
            router.refusal(ofHead: HTTPRequest(method: "GET", path: "/healthz"), router.resolve(method: "GET", path: "/healthz"), context: context)
                == nil)
        let good = HTTPRequest(method: "GET", path: "/metrics", headers: ["Authorization": "Bearer 0123456789abcdef"])
        #expect(router.respond(to: good, context: context).status == 200)
        #expect(router.respond(to: HTTPRequest(method: "GET", path: "/healthz"), context: context).status == 200)
    }

    /// A request the event loop authenticated and then handed to a worker is not authenticated
    /// again there: the context the loop's run established travels with it (the bearer check ran
    /// once; for S3, SigV4 is verified once).
    @Test func aRequestHandedToAWorkerIsAuthenticatedOnce() throws {
        let checks = CountingMiddleware()
        var router = Router()
        router.use(checks)
        router.use(AuthMiddleware(token: "0123456789abcdef"))
        router.add("GET", "/v1/x", inline: true) { _, context in
            if !context.mayBlock { throw NeedsWorker() }
            return HTTPResponse(status: context.authenticated ? 200 : 500)
        }
        let request = HTTPRequest(method: "GET", path: "/v1/x", headers: ["Authorization": "Bearer 0123456789abcdef"])
        let resolution = router.resolve(method: "GET", path: "/v1/x")
        var context = RequestContext(requestID: "t", logger: Logger(label: "test"))
        context.mayBlock = false
        guard case .needsWorker(let carried?) = router.run(request, resolution, context: context) else {
            Issue.record("the loop's run should hand the request to a worker with its context")
            return
        }
        #expect(carried.authenticated)
        var onWorker = carried
        onWorker.mayBlock = true
        // The worker's run does not look at the token again: a request without one passes with the carried context...
        let stripped = HTTPRequest(method: "GET", path: "/v1/x")
        guard case .response(let answer) = router.run(stripped, resolution, context: onWorker) else {
            Issue.record("the worker's run should answer")
            return
        }
        #expect(answer.status == 200)
        // ...and without it (a fresh context) is refused: the flag is the only way past the check.
        #expect(router.respond(to: stripped, context: RequestContext(requestID: "u", logger: Logger(label: "test"))).status == 401)
        #expect(checks.count == 3)
    }
}

/// Counts the runs of the chain (to show the loop's and the worker's runs are both there).
final class CountingMiddleware: Middleware, @unchecked Sendable {
    private(set) var count = 0
    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        count += 1
        return try next(request, context)
    }
}
