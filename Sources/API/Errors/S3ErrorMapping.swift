// The one place where errors become S3 answers on the S3 listener: S3's error codes and statuses,
// as an S3 XML body (`<Error><Code>…<Message>…<Resource>…<RequestId>…`). The problem+json
// mapping (ErrorMapping.swift) serves the admin API; both classify the same typed errors.
import Engine
import Fleet
import Logging

/// An error only S3 requests raise (auth, S3 arguments), with its S3 code and status.
package struct S3Error: Error, Sendable, Equatable {
    package var code: String
    package var status: Int
    package var message: String
    package var headers: [(name: String, value: String)] = []

    package init(_ code: String, _ status: Int, _ message: String) {
        self.code = code
        self.status = status
        self.message = message
    }

    package static func == (a: S3Error, b: S3Error) -> Bool { a.code == b.code && a.status == b.status && a.message == b.message }

    static func accessDenied(_ message: String) -> S3Error { S3Error("AccessDenied", 403, message) }
    static func invalidArgument(_ message: String) -> S3Error { S3Error("InvalidArgument", 400, message) }
    static func invalidRequest(_ message: String) -> S3Error { S3Error("InvalidRequest", 400, message) }
    static func notImplemented(_ what: String) -> S3Error { S3Error("NotImplemented", 501, "\(what) is not implemented by this server") }
    static func malformedXML(_ message: String) -> S3Error { S3Error("MalformedXML", 400, message) }
    static func badDigest(_ message: String) -> S3Error { S3Error("BadDigest", 400, message) }
    /// A key id nobody knows (`InvalidAccessKeyId`).
    static let unknownKeyCode = "InvalidAccessKeyId"
    static let signatureMismatch = S3Error(
        "SignatureDoesNotMatch", 403,
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.")
}

package enum S3ErrorMapping {
    package static func response(for error: any Error, context: RequestContext) -> HTTPResponse {
        var error = classify(error)
        if error.status >= 500, error.status != 507, error.code != "SlowDown" {  // 507: the upload does not fit; SlowDown: retry shortly.
            context.logger.error("S3 request failed", metadata: ["route": "\(context.route)", "code": "\(error.code)", "error": "\(error.message)"])
        }
        var xml = S3XML()
        xml.open("Error")
        xml.element("Code", error.code)
        xml.element("Message", error.message)
        if !context.resource.isEmpty { xml.element("Resource", context.resource) }
        xml.element("RequestId", context.requestID)
        xml.close("Error")
        error.headers.append(("x-amz-request-id", context.requestID))
        return HTTPResponse(status: error.status, headers: [("Content-Type", "application/xml")] + error.headers, body: xml.bytes)
    }

    static func classify(_ error: any Error) -> S3Error {
        switch error {
        case let error as S3Error:
            return error
        case let error as HTTPError:
            switch error {
            case .badRequest(let detail): return .invalidArgument(detail)
            case .invalidURI(let detail): return S3Error("InvalidURI", 400, "Couldn't parse the specified URI: \(detail)")
            case .notImplemented(let detail): return .notImplemented(detail)
            case .slowDown(let detail):
                var s3 = S3Error("SlowDown", 503, "Please reduce your request rate: \(detail)")
                s3.headers = [("Retry-After", "1")]
                return s3
            case .bodyTooSlow(let detail):
                return S3Error(
                    "RequestTimeout", 400, "Your socket connection to the server was not read from or written to within the timeout period: \(detail)"
                )
            case .unauthorized(let detail), .forbidden(let detail): return .accessDenied(detail)
            case .notFound(let detail): return S3Error("NoSuchKey", 404, detail)
            case .methodNotAllowed(let allowed):
                var s3 = S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
                s3.headers = [("Allow", allowed.joined(separator: ", "))]
                return s3
            case .payloadTooLarge(let limit): return S3Error("MaxMessageLengthExceeded", 400, "request bodies are limited to \(limit) bytes")
            case .objectTooLarge(let limit):
                return S3Error("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed object size (\(limit) bytes).")
            case .badGateway(let detail): return S3Error("InternalError", 502, "We encountered an internal error. Please try again: \(detail)")
            case .unavailable(let detail):
                var s3 = S3Error("ServiceUnavailable", 503, "Please retry: \(detail)")
                s3.headers = [("Retry-After", "2")]
                return s3
            case .preconditionFailed(let detail):
                return S3Error("PreconditionFailed", 412, "At least one of the preconditions you specified did not hold: \(detail)")
            case .rangeNotSatisfiable(let size):
                var s3 = S3Error("InvalidRange", 416, "The requested range is not satisfiable (the object holds \(size) bytes)")
                s3.headers = [("Content-Range", "bytes */\(size)")]
                return s3
            }
        case let error as EtcdError:
            var s3 = S3Error("ServiceUnavailable", 503, "Please retry: the fleet's etcd: \(error)")
            s3.headers = [("Retry-After", "2")]
            return s3
        case let error as EngineError:
            switch error {
            case .conditionNotMet(let detail):
                return S3Error("PreconditionFailed", 412, "At least one of the preconditions you specified did not hold: \(detail)")
            case .volumeNotFound: return S3Error("NoSuchBucket", 404, "The specified bucket does not exist")
            case .objectNotFound: return S3Error("NoSuchKey", 404, "The specified key does not exist.")
            case .uploadNotFound:
                return S3Error(
                    "NoSuchUpload", 404,
                    "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.")
            case .versionNotFound: return S3Error("NoSuchVersion", 404, "The specified version does not exist.")
            case .versionIsDeleteMarker(_, _, let version):
                var s3 = S3Error("MethodNotAllowed", 405, "The specified method is not allowed against this resource.")
                s3.headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", version)]
                return s3
            case .volumeExists: return S3Error("BucketAlreadyExists", 409, "The requested bucket name is not available.")
            case .volumeNotEmpty: return S3Error("BucketNotEmpty", 409, "The bucket you tried to delete is not empty")
            case .noSpace(.volumeQuota, _, _):
                return S3Error("QuotaExceeded", 507, "The upload does not fit the bucket's quota: \(error.description)")
            case .noSpace(.pool, _, _): return S3Error("InsufficientStorage", 507, "The pool cannot hold the upload: \(error.description)")
            case .invalidPart:
                return S3Error("InvalidPart", 400, "One or more of the specified parts could not be found or did not match: \(error.description)")
            case .invalidPartOrder: return S3Error("InvalidPartOrder", 400, "The list of parts was not in ascending order.")
            case .partTooSmall:
                return S3Error("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed object size: \(error.description)")
            case .uploadIncomplete:
                return S3Error(
                    "IncompleteBody", 400, "You did not provide the number of bytes specified by the Content-Length HTTP header: \(error.description)"
                )
            case .uploadTooLong: return .invalidRequest(error.description)
            case .patchTooLarge, .objectTooLarge: return S3Error("EntityTooLarge", 400, error.description)
            case .invalidArgument(let field, _) where field == "key": return S3Error("KeyTooLongError", 400, error.description)
            default:
                switch error.kind {
                case .invalid: return .invalidArgument(error.description)
                case .notFound: return S3Error("NoSuchKey", 404, error.description)
                case .notAllowed: return S3Error("MethodNotAllowed", 405, error.description)
                case .conflict: return S3Error("OperationAborted", 409, error.description)
                case .precondition: return S3Error("PreconditionFailed", 412, error.description)
                case .noSpace: return S3Error("InsufficientStorage", 507, error.description)
                case .tooLarge: return S3Error("EntityTooLarge", 400, error.description)
                case .range: return S3Error("InvalidRange", 416, error.description)
                case .io: return S3Error("ServiceUnavailable", 503, error.description)
                case .busy:
                    var s3 = S3Error("SlowDown", 503, error.description)
                    s3.headers = [("Retry-After", "1")]
                    return s3
                case .internal: return S3Error("InternalError", 500, error.description)
                }
            }
        default:
            return S3Error("InternalError", 500, String(describing: error))
        }
    }
}
