// One middleware protocol: wrap the rest of the chain.
package protocol Middleware: Sendable {
    func handle(_ request: HTTPRequest, context: RequestContext, next: Handler) throws -> HTTPResponse
}
