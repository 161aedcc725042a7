// Errors that only the HTTP layer can raise (parsing, auth, routing, size limits).
package enum HTTPError: Error, Sendable, Equatable {
    case badRequest(String)
    /// The request target itself is malformed (not UTF-8, a NUL, a bad escape): refused before auth.
    case invalidURI(String)
    /// A request feature this server does not implement (a transfer coding).
    case notImplemented(String)
    /// Too much of something is in progress (uploads): retry shortly.
    case slowDown(String)
    /// The body came slower than the configured floor: the upload was cut and its space released.
    case bodyTooSlow(String)
    case unauthorized(String)
    /// Authenticated, but not allowed (a console session whose key may not do this).
    case forbidden(String)
    case notFound(String)
    case methodNotAllowed(allowed: [String])
    case payloadTooLarge(limit: Int)
    /// A length or range past the largest object (an upload's Content-Length, a PATCH's range).
    case objectTooLarge(limit: Int64)
    case preconditionFailed(String)
    case rangeNotSatisfiable(size: Int64)
    /// The node serving the volume (the fleet) did not answer.
    case badGateway(String)
    /// Not available now (a volume whose pool has no live owner in the fleet): retry shortly.
    case unavailable(String)
}
