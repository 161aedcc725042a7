// S3 query parameters: decoded values (S3Handlers.query) and counts such as max-keys
// (S3Handlers.count), which stay within S3's range and the handler's cap.
import API

enum S3QueryFuzz {
    static let names = ["max-keys", "max-uploads", "max-parts", "part-number-marker", "partNumber", "prefix", "delimiter", "uploadId"]

    /// The cap, then a raw query (`a=1&b&c=`).
    static func parameters(_ input: inout FuzzInput) {
        let cap = Int(input.size())
        let request = HTTPRequest(method: "GET", path: "/bucket", query: input.query())
        for name in names {
            _ = try? S3Handlers.query(request, name)
            guard let count = try? S3Handlers.count(request, name, cap: cap) else { continue }
            ParserFuzzing.require(0 <= count && count <= min(cap, Int(Int32.max)), "\(name) gave \(count) with cap \(cap)")
        }
    }
}
