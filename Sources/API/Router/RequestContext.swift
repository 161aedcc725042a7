// Per-request context: id, logger, the matched route template and its decoded parameters.
package import Logging

package struct RequestContext: Sendable {
    package var requestID: String
    /// The server's logger; `logger` adds the request id (only when something is logged: setting
    /// metadata costs more than a cache-hit GET's handler).
    private let baseLogger: Logger
    /// The route template (e.g. `/v1/volumes/{name}`), or `unmatched`; metrics are labelled by it.
    package var route: String
    package var parameters: [String: String]
    /// What the router resolved for this request (the route's action, or the error to answer).
    var resolution: Result<Route.Action, HTTPError>?
    /// False when the request runs on the server's event loop: a handler that would wait on IO
    /// throws `NeedsWorker` instead, and the router answers `.needsWorker` (see `Route.inline`).
    package var mayBlock = true
    /// S3: the resource an error names (the decoded path), and who signed the request.
    package var resource = ""
    package var s3: S3Principal?
    /// The bearer token was checked (AuthMiddleware), on the event loop before a worker took the
    /// request over: the worker does not check it again.
    package var authenticated = false

    package init(requestID: String, logger: Logger, route: String = "unmatched", parameters: [String: String] = [:]) {
        self.requestID = requestID
        baseLogger = logger
        self.route = route
        self.parameters = parameters
    }

    package var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request-id"] = "\(requestID)"
        return logger
    }

    /// Whether messages at `level` are logged at all.
    package func logs(_ level: Logger.Level) -> Bool { baseLogger.logLevel <= level }

    /// A path parameter the route template guarantees.
    package func parameter(_ name: String) -> String {
        guard let value = parameters[name] else { preconditionFailure("route \(route) has no parameter \(name)") }
        return value
    }
}

/// Thrown by an inline handler or body opener (with `mayBlock` false) that would have to wait:
/// the server runs the request again on a worker (`RunOutcome.needsWorker`). Not an error answer.
/// It carries the context the handler had (the router fills it in), so the worker's run starts
/// from what the loop's established: who the caller is, authenticated once.
package struct NeedsWorker: Error {
    package var context: RequestContext?
    package init() {}
}
