import Engine
import Foundation

// A request's head checked before anything else is done with it (RFC 9112 §6): the target, the
// body's framing and its declared length, each a refusal answered at once (the connection is then
// closed: its body, if any, is never read). Pure: the server hands in what MHD parsed.
package struct RequestFraming: Equatable {
    /// The body's declared length (nil: none declared, or chunked).
    package var expectedLength: Int64?
    package var chunked: Bool
    package var hasBody: Bool { (expectedLength ?? 0) > 0 || chunked }

    /// The head's framing, or the error that refuses it.
    /// - `target`: the request target as sent, nil when it is not valid UTF-8.
    /// - `bodyLimit`: what the route may take (nil: a streamed upload, bounded by the largest object).
    ///   A longer body up to `dropLimit` is read and dropped before the refusal is answered (so the
    ///   connection stays usable); a longer one still is refused now.
    package static func check(
        target: String?, contentLength: String?, transferEncoding: String?, bodyLimit: Int?, dropLimit: Int = 64 << 20
    ) -> Result<RequestFraming, HTTPError> {
        guard let target else { return .failure(.invalidURI("the request target is not valid UTF-8")) }
        guard target.utf8.first == UInt8(ascii: "/") else { return .failure(.invalidURI("the request target must start with /")) }
        guard !target.utf8.contains(0) else { return .failure(.invalidURI("the request target holds a NUL byte")) }
        var framing = RequestFraming(expectedLength: nil, chunked: false)
        if let transferEncoding {
            // A message with both is a smuggling attempt or a broken proxy (RFC 9112 §6.3).
            guard contentLength == nil else { return .failure(.badRequest("Content-Length and Transfer-Encoding must not both be sent")) }
            let codings = transferEncoding.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard codings == ["chunked"] else { return .failure(.notImplemented("Transfer-Encoding \(transferEncoding) (only chunked)")) }
            framing.chunked = true
        }
        if let contentLength {
            switch WireNumber.parse(contentLength, limit: bodyLimit.map { Int64(max($0, dropLimit)) } ?? Engine.maxObjectBytes) {
            case .value(let length): framing.expectedLength = length
            case .malformed: return .failure(.badRequest("Content-Length must be a non-negative integer"))
            case .tooLarge:
                guard let bodyLimit else { return .failure(.objectTooLarge(limit: Engine.maxObjectBytes)) }
                return .failure(.payloadTooLarge(limit: bodyLimit))
            }
        }
        return .success(framing)
    }
}
