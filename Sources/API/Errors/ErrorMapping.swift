// The one place where errors become HTTP statuses and problem+json bodies. Unknown errors are 500,
// logged once here.
import Engine
import Fleet
import Logging

package enum ErrorMapping {
    static let typeBase = "https://appliance.local/problems/"

    package static func response(for error: any Error, context: RequestContext) -> HTTPResponse {
        let (status, slug, title, detail, headers) = classify(error)
        if status >= 500, slug != "busy" {  // Busy (retry shortly) is not a failure of the server.
            context.logger.error("request failed", metadata: ["route": "\(context.route)", "error": "\(detail)"])
        }
        let problem = Problem(type: typeBase + slug, title: title, status: status, detail: detail)
        var response = HTTPResponse.json(problem, status: status, headers: headers)
        response.headers[0] = ("Content-Type", "application/problem+json")
        return response
    }

    static func classify(_ error: any Error) -> (Int, String, String, String, [(name: String, value: String)]) {
        switch error {
        case let error as HTTPError:
            switch error {
            case .badRequest(let detail), .invalidURI(let detail): return (400, "bad-request", "Bad Request", detail, [])
            case .notImplemented(let detail): return (501, "not-implemented", "Not Implemented", detail, [])
            case .slowDown(let detail): return (503, "busy", "Service Unavailable", detail, [("Retry-After", "1")])
            case .bodyTooSlow(let detail): return (408, "request-timeout", "Request Timeout", detail, [("Connection", "close")])
            case .unauthorized(let detail):
                return (401, "unauthorized", "Unauthorized", detail, [("WWW-Authenticate", "Bearer realm=\"appliance\"")])
            case .forbidden(let detail): return (403, "forbidden", "Forbidden", detail, [])
            case .notFound(let detail): return (404, "not-found", "Not Found", detail, [])
            case .methodNotAllowed(let allowed):
                return (
                    405, "method-not-allowed", "Method Not Allowed", "allowed: \(allowed.joined(separator: ", "))",
                    [("Allow", allowed.joined(separator: ", "))]
                )
            case .payloadTooLarge(let limit):
                return (413, "payload-too-large", "Payload Too Large", "request bodies are limited to \(limit) bytes", [])
            case .objectTooLarge(let limit):
                return (413, "payload-too-large", "Payload Too Large", "an object holds at most \(limit) bytes", [])
            case .preconditionFailed(let detail): return (412, "precondition-failed", "Precondition Failed", detail, [])
            case .badGateway(let detail): return (502, "bad-gateway", "Bad Gateway", detail, [])
            case .unavailable(let detail): return (503, "unavailable", "Service Unavailable", detail, [("Retry-After", "2")])
            case .rangeNotSatisfiable(let size):
                return (416, "range-not-satisfiable", "Range Not Satisfiable", "the object holds \(size) bytes", [])
            }
        case let error as EngineError:
            switch error.kind {
            case .invalid: return (400, "bad-request", "Bad Request", error.description, [])
            case .notFound: return (404, "not-found", "Not Found", error.description, [])
            case .notAllowed: return (405, "method-not-allowed", "Method Not Allowed", error.description, [])
            case .conflict: return (409, "conflict", "Conflict", error.description, [])
            case .precondition: return (412, "precondition-failed", "Precondition Failed", error.description, [])
            case .noSpace: return (507, "insufficient-storage", "Insufficient Storage", error.description, [])
            case .tooLarge: return (413, "payload-too-large", "Payload Too Large", error.description, [])
            case .range: return (416, "range-not-satisfiable", "Range Not Satisfiable", error.description, [])
            case .io: return (503, "io-error", "Storage IO Error", error.description, [])
            case .busy: return (503, "busy", "Service Unavailable", error.description, [("Retry-After", "1")])
            case .internal: return (500, "internal", "Internal Server Error", error.description, [])
            }
        case let error as EtcdError:
            // The fleet's shared state cannot be read or changed now: nothing was changed.
            return (503, "fleet-unavailable", "Service Unavailable", "the fleet's etcd: \(error)", [("Retry-After", "2")])
        default:
            return (500, "internal", "Internal Server Error", String(describing: error), [])
        }
    }
}
