// Per-request context: id, logger, the matched route template and its decoded parameters.
package import Logging

package struct RequestContext: Sendable {
    package var requestID: String
    package var logger: Logger
    /// The route template (e.g. `/v1/volumes/{name}`), or `unmatched`; metrics are labelled by it.
    package var route: String
    package var parameters: [String: String]

    package init(requestID: String, logger: Logger, route: String = "unmatched", parameters: [String: String] = [:]) {
        self.requestID = requestID
        self.logger = logger
        self.route = route
        self.parameters = parameters
    }

    /// A path parameter the route template guarantees.
    package func parameter(_ name: String) -> String {
        guard let value = parameters[name] else { preconditionFailure("route \(route) has no parameter \(name)") }
        return value
    }
}
