// Errors that only the HTTP layer can raise (parsing, auth, routing, size limits).
package enum HTTPError: Error, Sendable, Equatable {
    case badRequest(String)
    case unauthorized(String)
    case notFound(String)
    case methodNotAllowed(allowed: [String])
    case payloadTooLarge(limit: Int)
    case preconditionFailed(String)
    case rangeNotSatisfiable(size: Int64)
}
