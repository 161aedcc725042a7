// A minimal S3 client for the end-to-end tests: SigV4 (header form, signed payload) written from
// the AWS documentation, independent of the server's own signer, with the key the first start
// writes to <data-dir>/s3-credentials.
import Crypto
import Foundation

struct S3Client {
    let port: Int
    let accessKeyID: String
    let secret: String
    let region = "us-east-1"

    /// With the key `app` wrote on first start; sent to `via`'s S3 endpoint (default: `app`'s).
    init(_ app: ApplianceProcess, via: ApplianceProcess? = nil) throws {
        guard let url = (via ?? app).s3URL, let port = url.port else { throw HTTPClientError("the appliance has no S3 endpoint") }
        self.port = port
        let text = try String(contentsOf: app.dataDir.appendingPathComponent("s3-credentials"), encoding: .utf8)
        func value(_ name: String) throws -> String {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + " = ") }) else {
                throw HTTPClientError("no \(name) in s3-credentials")
            }
            return String(line.dropFirst(name.count + 3)).trimmingCharacters(in: .whitespaces)
        }
        accessKeyID = try value("aws_access_key_id")
        secret = try value("aws_secret_access_key")
    }

    /// With a key given, sent to `via`'s S3 endpoint.
    init(_ via: ApplianceProcess, id: String, secret: String) throws {
        guard let port = via.s3URL?.port else { throw HTTPClientError("the appliance has no S3 endpoint") }
        self.port = port
        accessKeyID = id
        self.secret = secret
    }

    /// RFC 3986 unreserved characters stay; every other byte is %XX (uppercase), '/' too unless
    /// `keepSlash`.
    static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash: out += "/"
            default: out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 { digest.map { String(format: "%02x", $0) }.joined() }

    /// `Content-MD5` of a body, as DeleteObjects needs it.
    static func contentMD5(_ body: [UInt8]) -> (String, String) { ("Content-MD5", Data(Insecure.MD5.hash(data: body)).base64EncodedString()) }

    /// Sends a signed request for `path` (decoded, e.g. "/bucket/e\u{301}/a") and `query` (decoded);
    /// `headers` are sent as they are, unsigned (none of them x-amz-*).
    func request(
        _ method: String, _ path: String, query: [(String, String?)] = [], body: [UInt8] = [], headers extra: [(String, String)] = []
    ) throws -> HTTPResult {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: Date())
        let date = String(amzDate.prefix(8))
        let uri = Self.encode(path, keepSlash: true)
        let pairs = query.map { (Self.encode($0.0), Self.encode($0.1 ?? "")) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        let canonicalQuery = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let payloadHash = Self.hex(SHA256.hash(data: body))
        let canonicalHeaders = "host:127.0.0.1\nx-amz-content-sha256:\(payloadHash)\nx-amz-date:\(amzDate)\n"
        let signedHeaders = "host;x-amz-content-sha256;x-amz-date"
        let canonicalRequest = [method, uri, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].joined(separator: "\n")
        let scope = "\(date)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Data(("AWS4" + secret).utf8))
        for part in [date, region, "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: key))
        let headers =
            [
                ("x-amz-date", amzDate), ("x-amz-content-sha256", payloadHash),
                ("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"),
            ] + extra
        let target = uri + (canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)
        let response = try HTTPConnection(port: port, timeout: 120).exchange(method, target, headers: headers, body: body)
        return HTTPResult(status: response.status, headers: response.headers, body: Data(response.body))
    }

    /// Every `<name>…</name>` in an answer, in order, as written.
    static func elements(_ name: String, in text: String) -> [String] {
        text.components(separatedBy: "<\(name)>").dropFirst().compactMap { $0.components(separatedBy: "</\(name)>").first }
    }

    /// Keys and common prefixes of a listing asked with encoding-type=url, decoded, in order.
    static func listed(_ text: String) -> (keys: [String], prefixes: [String]) {
        let keys = elements("Key", in: text).compactMap { $0.removingPercentEncoding }
        let prefixes = elements("CommonPrefixes", in: text).flatMap { elements("Prefix", in: $0) }.compactMap { $0.removingPercentEncoding }
        return (keys, prefixes)
    }
}
