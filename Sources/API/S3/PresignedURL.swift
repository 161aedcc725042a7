// A presigned S3 GET URL (SigV4 query authentication, `UNSIGNED-PAYLOAD`, only `host` signed):
// what the console hands out as a share link. Whoever holds it may GET that one object as the
// signing key until it expires; the S3 listener checks it like any client's presigned URL.
import Crypto
import Foundation

enum PresignedURL {
    /// Longest expiry S3 allows (7 days).
    static let maxExpiry = 7 * 86_400

    static func get(
        endpoint: String, host: String, bucket: String, key: String, accessKeyID: String, secret: String, region: String, expires: Int,
        now: Date = Date()
    ) -> String? {
        let path = "/" + SigV4.uriEncode(bucket) + "/" + SigV4.uriEncode(key, encodeSlash: false)
        return sign(endpoint: endpoint, host: host, path: path, accessKeyID: accessKeyID, secret: secret, region: region, expires: expires, now: now)
    }

    /// The presigned GET of `path` (already percent-encoded) on `host`.
    static func sign(
        endpoint: String, host: String, path: String, accessKeyID: String, secret: String, region: String, expires: Int, now: Date
    ) -> String? {
        // 2026-12-07T02:14:08Z → 20261207T021408Z
        guard let stamp = RFC3339.format(now, milliseconds: false, years: 1970...9999) else { return nil }
        let amzDate = stamp.filter { $0 != "-" && $0 != ":" }
        let date = String(amzDate.prefix(8))
        let scope = "\(date)/\(region)/s3/aws4_request"
        let query: [(name: String, value: String?)] = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"), ("X-Amz-Credential", SigV4.uriEncode("\(accessKeyID)/\(scope)")),
            ("X-Amz-Date", amzDate), ("X-Amz-Expires", String(expires)), ("X-Amz-SignedHeaders", "host"),
        ]
        let request = HTTPRequest(method: "GET", path: path, query: query, headers: ["host": host])
        guard let credential = SigV4.Credential("\(accessKeyID)/\(scope)"),
            let canonical = SigV4.canonicalRequest(request, signedHeaders: ["host"], payloadHash: "UNSIGNED-PAYLOAD")
        else { return nil }
        let signature = SigV4.signature(
            key: SigV4.signingKey(secret: secret, credential: credential),
            stringToSign: SigV4.stringToSign(amzDate: amzDate, scope: scope, canonicalRequest: canonical))
        let queryText = query.map { "\($0.name)=\($0.value ?? "")" }.joined(separator: "&")
        return "\(endpoint)\(path)?\(queryText)&X-Amz-Signature=\(signature)"
    }
}
