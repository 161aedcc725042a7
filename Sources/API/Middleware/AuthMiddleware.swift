// Bearer-token auth for every /v1 route, and for /metrics with `guardsMetrics` (--metrics-auth),
// compared in constant time. The token is never logged.
struct AuthMiddleware: Middleware {
    let token: [UInt8]
    /// /metrics names volumes and devices and counts requests: guarded unless the operator (or a
    /// loopback listener) says otherwise.
    let guardsMetrics: Bool

    init(token: String, guardsMetrics: Bool = false) {
        self.token = Array(token.utf8)
        self.guardsMetrics = guardsMetrics
    }

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        guard !context.authenticated, context.route.hasPrefix("/v1") || guards(request.path) else {
            return try next(request, context)
        }
        if let refusal = check(request) { throw refusal }
        var context = context
        context.authenticated = true
        return try next(request, context)
    }

    /// An unauthenticated request's body is not buffered (10,000 connections could otherwise pin
    /// up to 1 MiB each before being told 401): on every path but /healthz and the console's, a
    /// body needs the token. The console's own gate (ConsoleGate) asks for a session instead.
    func refusal(ofHead head: HTTPRequest) -> (any Error)? {
        head.path == "/healthz" || head.path.hasPrefix("/ui/") ? nil : check(head)
    }

    private func guards(_ path: String) -> Bool {
        path.hasPrefix("/v1/") || path == "/v1" || (guardsMetrics && path == "/metrics")
    }

    private func check(_ request: HTTPRequest) -> HTTPError? {
        guard let header = request.header("authorization"), header.lowercased().hasPrefix("bearer ") else {
            return .unauthorized("missing bearer token")
        }
        let presented = Array(header.utf8.dropFirst("bearer ".utf8.count))
        return Self.constantTimeEqual(presented, token) ? nil : .unauthorized("invalid bearer token")
    }

    /// Compares without an early exit, so timing does not reveal how much of the token matched.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < b.count ? b[i] : 0
            difference |= x ^ y
        }
        return difference == 0 && a.count == b.count
    }
}
