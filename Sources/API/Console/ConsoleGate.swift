// What a console request with a body must show from its head before the body is read: a live
// session (its form or upload then checks the CSRF token), or, for the login form, a small body.
// Nothing else sends a body to /ui/ unauthenticated, so none is buffered for a stranger.
struct ConsoleGate: Middleware {
    let sessions: ConsoleSessions
    static let loginBodyLimit = 16 << 10

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome { try next(request, context) }

    func refusal(ofHead head: HTTPRequest) -> (any Error)? {
        guard head.path.hasPrefix("/ui/") else { return nil }
        if head.path == "/ui/login" {
            let length = head.header("content-length").flatMap { Int($0) } ?? 0
            return length > Self.loginBodyLimit ? HTTPError.payloadTooLarge(limit: Self.loginBodyLimit) : nil
        }
        return sessions.session(for: head) == nil ? HTTPError.unauthorized("log in to the console first (/ui/login)") : nil
    }
}
