// One middleware protocol: wrap the rest of the chain.
package protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome
    /// A request whose body was streamed finished with `status` (its `handle` saw only the opening).
    func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration)
    /// From the head alone, before a body is buffered: the error that will refuse the request
    /// whatever its body (auth), or nil.
    func refusal(ofHead head: HTTPRequest) -> (any Error)?
}

extension Middleware {
    package func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {}
    package func refusal(ofHead head: HTTPRequest) -> (any Error)? { nil }
}
