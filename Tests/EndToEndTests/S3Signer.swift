// The tests' own Signature V4 (not the server's code): signs a path-style request to the S3
// listener with the first start's key (<data-dir>/s3-credentials), the payload UNSIGNED, host
// 127.0.0.1 (what HTTPConnection sends). Enough for requests whose answer the tests check.
import Crypto
import Foundation

struct S3Signer {
    let accessKey: String
    let secret: String

    init(dataDir: URL) throws {
        let text = try String(contentsOf: dataDir.appendingPathComponent("s3-credentials"), encoding: .utf8)
        func value(_ name: String) -> String {
            text.components(separatedBy: "\n").first { $0.hasPrefix(name + " = ") }.map { String($0.dropFirst(name.count + 3)) } ?? ""
        }
        accessKey = value("aws_access_key_id")
        secret = value("aws_secret_access_key")
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 { bytes.map { String(format: "%02x", $0) }.joined() }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text }

    /// The headers that sign `method path?query` now; `query` pairs unencoded.
    func headers(_ method: String, _ path: String, query: [(String, String)], date: Date = Date()) -> [(String, String)] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let amzDate = formatter.string(from: date)
        let day = String(amzDate.prefix(8))
        let canonicalQuery = query.map { (Self.encode($0.0), Self.encode($0.1)) }.sorted { $0 < $1 }.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
        let canonical = [
            method, path, canonicalQuery,
            "host:127.0.0.1\nx-amz-content-sha256:UNSIGNED-PAYLOAD\nx-amz-date:\(amzDate)\n",
            "host;x-amz-content-sha256;x-amz-date", "UNSIGNED-PAYLOAD",
        ].joined(separator: "\n")
        let scope = "\(day)/us-east-1/s3/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.hex(SHA256.hash(data: Data(canonical.utf8))))"
        var key = SymmetricKey(data: Data("AWS4\(secret)".utf8))
        for part in [day, "us-east-1", "s3", "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(toSign.utf8), using: key))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(accessKey)/\(scope), "
            + "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=\(signature)"
        return [("x-amz-date", amzDate), ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"), ("Authorization", authorization)]
    }
}

extension ApplianceProcess {
    /// A signed request to the S3 listener; `query` pairs unencoded (a subresource has value "").
    func s3(_ method: String, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPResult {
        guard let port = s3URL?.port else { throw HTTPClientError("the S3 listener is off") }
        let headers = try S3Signer(dataDir: dataDir).headers(method, path, query: query)
        let pairs = query.map { $0.1.isEmpty ? S3Signer.encode($0.0) : "\(S3Signer.encode($0.0))=\(S3Signer.encode($0.1))" }
        let target = path + (query.isEmpty ? "" : "?" + pairs.joined(separator: "&"))
        let response = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result {
                        try HTTPConnection(port: port, timeout: 60).exchange(method, target, headers: headers, body: body)
                    })
            }.start()
        }
        return HTTPResult(status: response.status, headers: response.headers, body: Data(response.body))
    }
}
