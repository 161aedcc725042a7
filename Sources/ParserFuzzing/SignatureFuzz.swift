// Signature parsing and canonicalization: SigV4's credential scope, Authorization header, signed
// header list, canonical request and x-amz-date; SigV2's string to sign. `sign` signs a request
// the way a client would, for the S3 router target to check that a good signature is accepted.
import API
import Glibc

enum SignatureFuzz {
    /// A credential, an Authorization header, a SignedHeaders list, an x-amz-date, a payload hash,
    /// then a request to canonicalize.
    static func sigV4(_ input: inout FuzzInput) {
        let credentialText = input.string()
        if let credential = SigV4.Credential(credentialText) {
            ParserFuzzing.require(
                "\(credential.accessKeyID)/\(credential.scope)" == credentialText, "Credential \(credentialText.debugDescription) did not round-trip")
        }
        if let authorization = SigV4.HeaderAuthorization(input.string()) {
            ParserFuzzing.require(!authorization.signedHeaders.isEmpty, "an Authorization header parsed without signed headers")
        }
        let signed = SigV4.signedHeaderNames(input.string())
        ParserFuzzing.require(signed.allSatisfy { !$0.isEmpty && !$0.utf8.contains(UInt8(ascii: ";")) }, "SignedHeaders \(signed)")
        let amzDate = input.string()
        if SigV4.parseAmzDate(amzDate) != nil {
            ParserFuzzing.require(amzDate.utf8.count == 16, "x-amz-date \(amzDate.debugDescription) parsed")
        }
        let payloadHash = input.string()
        let request = input.request()
        guard let canonical = SigV4.canonicalRequest(request, signedHeaders: signed, payloadHash: payloadHash) else { return }
        _ = SigV4.stringToSign(amzDate: amzDate, scope: "20150830/us-east-1/s3/aws4_request", canonicalRequest: canonical)
        _ = SigV4.canonicalRequest(request, signedHeaders: signed, payloadHash: payloadHash, excludingQuery: "X-Amz-Signature")
    }

    /// A Date header value, then a request.
    static func sigV2(_ input: inout FuzzInput) {
        let date = input.string()
        _ = SigV2.stringToSign(input.request(), date: date)
    }

    /// Signs `request` with `key` as of now (Authorization header; host and every x-amz-* header
    /// signed); false when it cannot be signed (a header name no client could list, a path or
    /// query that is not valid percent-encoding).
    static func sign(_ request: inout HTTPRequest, key: AccessKey) -> Bool {
        let amzDate = now()
        request.headers["authorization"] = nil
        request.headers["x-amz-date"] = amzDate
        if request.headers["host"] == nil { request.headers["host"] = "localhost" }
        let signed = request.headers.keys.filter { $0 == "host" || $0.hasPrefix("x-amz-") }.sorted()
        let token: (UInt8) -> Bool = { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        guard signed.allSatisfy({ $0.utf8.allSatisfy(token) }) else { return false }
        let payloadHash = request.headers["x-amz-content-sha256"] ?? "UNSIGNED-PAYLOAD"
        guard let canonical = SigV4.canonicalRequest(request, signedHeaders: signed, payloadHash: payloadHash),
            let credential = SigV4.Credential("\(key.id)/\(amzDate.prefix(8))/us-east-1/s3/aws4_request")
        else { return false }
        let stringToSign = SigV4.stringToSign(amzDate: amzDate, scope: credential.scope, canonicalRequest: canonical)
        let signature = SigV4.signature(key: SigV4.signingKey(secret: key.secret, credential: credential), stringToSign: stringToSign)
        request.headers["authorization"] =
            "\(SigV4.algorithm) Credential=\(key.id)/\(credential.scope), SignedHeaders=\(signed.joined(separator: ";")), Signature=\(signature)"
        return true
    }

    /// The current time as x-amz-date (`20150830T123600Z`).
    static func now() -> String {
        var seconds = time(nil)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)\(two(parts.tm_mon + 1))\(two(parts.tm_mday))T\(two(parts.tm_hour))\(two(parts.tm_min))\(two(parts.tm_sec))Z"
    }
}
