// Byte ranges from the wire: `Range` on a GET (ObjectHandlers.parseRange) and `Content-Range` on
// a PATCH (ObjectHandlers.patchRange, with the declared length it is checked against).
import API
import Engine

enum RangeFuzz {
    /// The object's size, then the Range header (`-`: absent). A partial range lies in the object.
    static func range(_ input: inout FuzzInput) {
        let size = input.size()
        let header = input.optionalString()
        let range = ObjectHandlers.parseRange(header, size: size)
        if case .partial(let start, let end) = range {
            ParserFuzzing.require(0 <= start && start <= end && end < size, "Range \(header ?? "-") on \(size) bytes gave \(start)-\(end)")
        }
    }

    /// Content-Range, Content-Length and Transfer-Encoding (`-`: absent). The range written is
    /// inside the largest object, and its length is the declared one when there is one.
    static func patchRange(_ input: inout FuzzInput) {
        var headers: [String: String] = [:]
        for name in ["content-range", "content-length", "transfer-encoding"] {
            if let value = input.optionalString() { headers[name] = value }
        }
        let request = HTTPRequest(method: "PATCH", path: "/", headers: headers)
        let declared: Int64?
        do {
            declared = try ObjectHandlers.declaredLength(request)
        } catch {
            declared = nil
        }
        if let declared {
            ParserFuzzing.require((0...Engine.maxObjectBytes).contains(declared), "declared length \(declared)")
        }
        guard let (offset, length) = try? ObjectHandlers.patchRange(request) else { return }
        ParserFuzzing.require(
            offset >= 0 && length >= 1 && offset <= Engine.maxObjectBytes - length, "Content-Range \(headers) gave \(offset)+\(length)")
        if let declared { ParserFuzzing.require(declared == length, "Content-Range length \(length) but Content-Length \(declared)") }
    }
}
