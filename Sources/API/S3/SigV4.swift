// AWS Signature Version 4 (the form S3 uses): canonical request, string to sign, signing key,
// signature; the `Authorization` header and presigned-query forms; the chunk and trailer
// signatures of aws-chunked bodies. Pure functions over strings and bytes: no HTTP server here.
// S3 signs the path as sent, each segment URI-encoded once, with no path normalization.
package import Crypto
package import Foundation

package enum SigV4 {
    package static let algorithm = "AWS4-HMAC-SHA256"
    package static let emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// `AKID/20150830/us-east-1/s3/aws4_request`.
    package struct Credential: Sendable, Equatable {
        package var accessKeyID: String
        package var date: String
        package var region: String
        package var service: String

        package var scope: String { "\(date)/\(region)/\(service)/aws4_request" }

        /// Split on the bytes (String's split on Characters was a tenth of a cached S3 GET).
        package init?(_ text: String) {
            let parts = text.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
            // Bounded: the scope keys the signing-key cache, and the region is echoed in errors.
            func token(_ part: Substring.UTF8View.SubSequence, _ limit: Int) -> Bool {
                (1...limit).contains(part.count) && part.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }
            guard parts.count == 5, parts[4].elementsEqual("aws4_request".utf8), (1...128).contains(parts[0].count), parts[1].count == 8,
                parts[1].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), token(parts[2], 32), token(parts[3], 16)
            else { return nil }
            func string(_ part: Substring.UTF8View.SubSequence) -> String { String(decoding: part, as: UTF8.self) }
            (accessKeyID, date, region, service) = (string(parts[0]), string(parts[1]), string(parts[2]), string(parts[3]))
        }
    }

    /// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    package struct HeaderAuthorization: Sendable, Equatable {
        package var credential: Credential
        package var signedHeaders: [String]
        package var signature: String

        /// Parsed on the header's bytes (Foundation's trimming was a quarter of a cached S3 GET).
        package init?(_ header: String) {
            guard header.hasPrefix(SigV4.algorithm + " ") else { return nil }
            var credential: Credential?
            var signed: String?
            var signature: String?
            for part in header.utf8.dropFirst(SigV4.algorithm.utf8.count + 1).split(separator: UInt8(ascii: ",")) {
                let field = SigV4.trimmed(part)
                guard let eq = field.firstIndex(of: UInt8(ascii: "=")) else { return nil }
                let name = field[..<eq]
                let value = String(decoding: field[field.index(after: eq)...], as: UTF8.self)
                if name.elementsEqual("Credential".utf8) {
                    credential = Credential(value)
                } else if name.elementsEqual("SignedHeaders".utf8) {
                    signed = value
                } else if name.elementsEqual("Signature".utf8) {
                    signature = value
                }
            }
            guard let credential, let signed, let signature, !signed.isEmpty else { return nil }
            self.credential = credential
            signedHeaders = SigV4.signedHeaderNames(signed)
            self.signature = signature
        }
    }

    /// `host;x-amz-date` → its names.
    package static func signedHeaderNames(_ list: String) -> [String] {
        list.utf8.split(separator: UInt8(ascii: ";")).map { String(decoding: $0, as: UTF8.self) }
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trimmed(_ bytes: Substring.UTF8View.SubSequence) -> Substring.UTF8View.SubSequence {
        var slice = bytes[...]
        while let first = slice.first, first == 32 || first == 9 { slice = slice.dropFirst() }
        while let last = slice.last, last == 32 || last == 9 { slice = slice.dropLast() }
        return slice
    }

    /// RFC 3986 unreserved characters stay; every other byte is %XX (upper case). `/` stays
    /// unless `encodeSlash`.
    package static func uriEncode(_ text: String, encodeSlash: Bool = true) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where !encodeSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The canonical URI of a raw (percent-encoded) path: decoded, then each segment encoded once.
    package static func canonicalURI(rawPath: String) -> String? {
        guard let decoded = PercentDecoding.decode(rawPath) else { return nil }
        return decoded.isEmpty ? "/" : uriEncode(decoded, encodeSlash: false)
    }

    /// Query pairs (raw, as sent) decoded, encoded the AWS way, sorted by name then value.
    /// `excluding`: a name left out (X-Amz-Signature of a presigned URL).
    package static func canonicalQuery(_ query: [(name: String, value: String?)], excluding: String? = nil) -> String? {
        var pairs: [(String, String)] = []
        for (name, value) in query where name != excluding {
            guard let decodedName = PercentDecoding.decode(name), let decodedValue = PercentDecoding.decode(value ?? "") else { return nil }
            pairs.append((uriEncode(decodedName), uriEncode(decodedValue)))
        }
        pairs.sort { $0.0 != $1.0 ? $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) : $0.1.utf8.lexicographicallyPrecedes($1.1.utf8) }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// `name:value\n` for each signed header (values trimmed, inner runs of spaces collapsed).
    /// nil when a signed header is missing.
    package static func canonicalHeaders(_ headers: [String: String], signed: [String]) -> String? {
        var out: [UInt8] = []
        for name in signed {
            guard let value = headers[name] else { return nil }
            out += name.utf8
            out.append(UInt8(ascii: ":"))
            var lastWasSpace = false
            for byte in trimmed(value[...].utf8) {
                if byte == 32 || byte == 9 {
                    if !lastWasSpace { out.append(32) }
                    lastWasSpace = true
                } else {
                    out.append(byte)
                    lastWasSpace = false
                }
            }
            out.append(10)
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func canonicalRequest(
        method: String, uri: String, query: String, headers: String, signedHeaders: [String], payloadHash: String
    ) -> String {
        [method, uri, query, headers, signedHeaders.joined(separator: ";"), payloadHash].joined(separator: "\n")
    }

    /// The canonical request of `request` as sent (raw path and query), or nil when a signed
    /// header is missing or the path or query is not valid percent-encoding.
    package static func canonicalRequest(
        _ request: HTTPRequest, signedHeaders: [String], payloadHash: String, excludingQuery: String? = nil
    ) -> String? {
        guard let uri = canonicalURI(rawPath: request.path), let query = canonicalQuery(request.query, excluding: excludingQuery),
            let headers = canonicalHeaders(request.headers, signed: signedHeaders)
        else { return nil }
        return canonicalRequest(
            method: request.method, uri: uri, query: query, headers: headers, signedHeaders: signedHeaders, payloadHash: payloadHash)
    }

    package static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        [algorithm, amzDate, scope, sha256Hex(Array(canonicalRequest.utf8))].joined(separator: "\n")
    }

    package static func signingKey(secret: String, credential: Credential) -> SymmetricKey {
        var key = SymmetricKey(data: Array(("AWS4" + secret).utf8))
        for part in [credential.date, credential.region, credential.service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return key
    }

    package static func signature(key: SymmetricKey, stringToSign: String) -> String {
        signature(prepared: HMAC<SHA256>(key: key), stringToSign: stringToSign)
    }

    /// The signature with an HMAC whose key schedule is already done (a copy of a cached one:
    /// its digest states are copied on write).
    package static func signature(prepared: HMAC<SHA256>, stringToSign: String) -> String {
        var hmac = prepared
        hmac.update(data: Array(stringToSign.utf8))
        return hmac.finalize().withUnsafeBytes { hex($0) }
    }

    /// Lower-case hex of `bytes`.
    package static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                for (i, byte) in bytes.enumerated() {
                    out[2 * i] = digits[Int(byte >> 4)]
                    out[2 * i + 1] = digits[Int(byte & 15)]
                }
            }
            return bytes.count * 2
        }
    }

    /// The signature of one aws-chunked chunk, chained from the previous one (the seed is the
    /// request's signature).
    package static func chunkSignature(
        key: SymmetricKey, amzDate: String, scope: String, previous: String, chunkSHA256: String
    ) -> String {
        let text = ["AWS4-HMAC-SHA256-PAYLOAD", amzDate, scope, previous, emptySHA256, chunkSHA256].joined(separator: "\n")
        return signature(key: key, stringToSign: text)
    }

    /// The signature of an aws-chunked body's trailer (the trailing headers, each `name:value\n`).
    package static func trailerSignature(key: SymmetricKey, amzDate: String, scope: String, previous: String, trailer: String) -> String {
        let text = ["AWS4-HMAC-SHA256-TRAILER", amzDate, scope, previous, sha256Hex(Array(trailer.utf8))].joined(separator: "\n")
        return signature(key: key, stringToSign: text)
    }

    package static func sha256Hex(_ bytes: [UInt8]) -> String {
        if bytes.isEmpty { return emptySHA256 }
        return SHA256.hash(data: bytes).withUnsafeBytes { hex($0) }
    }

    /// Compares two signatures without an early exit.
    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        AuthMiddleware.constantTimeEqual(Array(a.utf8), Array(b.utf8))
    }

    /// `20150830T123600Z` → the instant; nil when malformed.
    package static func parseAmzDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        // Days from the civil date (Howard Hinnant's algorithm): no Calendar on a request's path.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        return Date(timeIntervalSince1970: TimeInterval(days * 86_400 + hour * 3600 + minute * 60 + second))
    }
}
