// One middleware protocol: wrap the rest of the chain.
package protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, context: RequestContext, next: Handler) throws -> HTTPResponse
    /// A request whose body was streamed finished with `status` (its `handle` saw only the opening).
    func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration)
}

extension Middleware {
    package func completed(_ request: HTTPRequest, context: RequestContext, status: Int, duration: Duration) {}
}
