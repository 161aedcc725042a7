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

        /// Parsed on the text's contiguous bytes (String's split on Characters, then a generic split
        /// on its UTF8View, were a tenth of a cached S3 GET each).
        package init?(_ text: String) {
            guard let parsed = SigV4.withBytes(text, { Self.parse($0) }) else { return nil }
            self = parsed
        }

        private init(accessKeyID: String, date: String, region: String, service: String) {
            (self.accessKeyID, self.date, self.region, self.service) = (accessKeyID, date, region, service)
        }

        private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Credential? {
            let parts = SigV4.fields(bytes, separator: UInt8(ascii: "/"))
            guard parts.count == 5 else { return nil }
            func slice(_ i: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[parts[i]]) }
            // Bounded: the scope keys the signing-key cache, and the region is echoed in errors.
            func token(_ part: UnsafeBufferPointer<UInt8>, _ limit: Int) -> Bool {
                (1...limit).contains(part.count) && part.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
            }
            guard SigV4.equal(slice(4), "aws4_request"), (1...128).contains(parts[0].count), parts[1].count == 8,
                slice(1).allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), token(slice(2), 32), token(slice(3), 16)
            else { return nil }
            func string(_ i: Int) -> String { String(decoding: slice(i), as: UTF8.self) }
            return Credential(accessKeyID: string(0), date: string(1), region: string(2), service: string(3))
        }
    }

    /// A parsed `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    package struct HeaderAuthorization: Sendable, Equatable {
        package var credential: Credential
        package var signedHeaders: [String]
        package var signature: String

        /// Parsed on the header's contiguous bytes (Foundation's trimming was a quarter of a cached S3
        /// GET, and a generic split on the UTF8View a seventh).
        package init?(_ header: String) {
            guard let parsed = SigV4.withBytes(header, { Self.parse($0) }) else { return nil }
            self = parsed
        }

        private init(credential: Credential, signedHeaders: [String], signature: String) {
            (self.credential, self.signedHeaders, self.signature) = (credential, signedHeaders, signature)
        }

        private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> HeaderAuthorization? {
            let prefix = SigV4.algorithm.utf8.count
            guard bytes.count > prefix, SigV4.equal(UnsafeBufferPointer(rebasing: bytes[..<prefix]), "AWS4-HMAC-SHA256"), bytes[prefix] == 32 else {
                return nil
            }
            var credential: Credential?
            var signed: String?
            var signature: String?
            let rest = UnsafeBufferPointer(rebasing: bytes[(prefix + 1)...])
            for range in SigV4.fields(rest, separator: UInt8(ascii: ",")) {
                let field = SigV4.trimmed(UnsafeBufferPointer(rebasing: rest[range]))
                guard let eq = field.firstIndex(of: UInt8(ascii: "=")) else { return nil }
                let name = UnsafeBufferPointer(rebasing: field[..<eq])
                let value = String(decoding: UnsafeBufferPointer(rebasing: field[(eq + 1)...]), as: UTF8.self)
                if SigV4.equal(name, "Credential") {
                    credential = Credential(value)
                } else if SigV4.equal(name, "SignedHeaders") {
                    signed = value
                } else if SigV4.equal(name, "Signature") {
                    signature = value
                }
            }
            guard let credential, let signed, let signature, !signed.isEmpty else { return nil }
            return HeaderAuthorization(credential: credential, signedHeaders: SigV4.signedHeaderNames(signed), signature: signature)
        }
    }

    /// `body` run on `text`'s UTF-8 bytes, contiguous (a bridged or lazily built string is copied first).
    static func withBytes<T>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> T?) -> T? {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        copy.makeContiguousUTF8()
        return copy.utf8.withContiguousStorageIfAvailable(body) ?? nil
    }

    /// `bytes` are exactly `text`'s.
    static func equal(_ bytes: UnsafeBufferPointer<UInt8>, _ text: StaticString) -> Bool {
        bytes.count == text.utf8CodeUnitCount && (bytes.isEmpty || memcmp(bytes.baseAddress!, text.utf8Start, bytes.count) == 0)
    }

    /// The ranges between separators (empty fields kept).
    static func fields(_ bytes: UnsafeBufferPointer<UInt8>, separator: UInt8) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(6)
        var start = 0
        for i in 0..<bytes.count where bytes[i] == separator {
            ranges.append(start..<i)
            start = i + 1
        }
        ranges.append(start..<bytes.count)
        return ranges
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trimmed(_ bytes: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var (start, end) = (0, bytes.count)
        while start < end, bytes[start] == 32 || bytes[start] == 9 { start += 1 }
        while end > start, bytes[end - 1] == 32 || bytes[end - 1] == 9 { end -= 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<end])
    }

    /// `host;x-amz-date` → its names.
    package static func signedHeaderNames(_ list: String) -> [String] {
        withBytes(list) { bytes in
            fields(bytes, separator: UInt8(ascii: ";")).compactMap { range in
                range.isEmpty ? nil : String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
            }
        } ?? []
    }

    /// The AWS URI encoding (`PercentEncoding.encode`).
    package static func uriEncode(_ text: String, encodeSlash: Bool = true) -> String {
        PercentEncoding.encode(text, encodeSlash: encodeSlash)
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

    /// `name:value\n` for each signed header (values trimmed, inner runs of spaces collapsed),
    /// appended to `out`; false when a signed header is missing.
    static func appendCanonicalHeaders(_ headers: [String: String], signed: [String], to out: inout [UInt8]) -> Bool {
        for name in signed {
            guard let value = headers[name] else { return false }
            out += name.utf8
            out.append(UInt8(ascii: ":"))
            var lastWasSpace = false
            withBytes(value) { bytes -> Void? in
                for byte in trimmed(bytes) {
                    if byte == 32 || byte == 9 {
                        if !lastWasSpace { out.append(32) }
                        lastWasSpace = true
                    } else {
                        out.append(byte)
                        lastWasSpace = false
                    }
                }
                return ()
            }
            out.append(10)
        }
        return true
    }

    /// The canonical URI of a raw path, appended to `out`; false when it is not valid
    /// percent-encoding. A path of only unreserved bytes and slashes is its own canonical form.
    static func appendCanonicalURI(rawPath: String, to out: inout [UInt8]) -> Bool {
        let plain = withBytes(rawPath) { bytes -> Bool? in
            guard !bytes.isEmpty, bytes.allSatisfy({ byte in PercentEncoding.isUnreserved(byte) || byte == UInt8(ascii: "/") }) else { return false }
            out.append(contentsOf: bytes)
            return true
        }
        if plain == true { return true }
        guard let uri = canonicalURI(rawPath: rawPath) else { return false }
        out += uri.utf8
        return true
    }

    /// The canonical request of `request` as sent (raw path and query), or nil when a signed
    /// header is missing or the path or query is not valid percent-encoding.
    package static func canonicalRequest(
        _ request: HTTPRequest, signedHeaders: [String], payloadHash: String, excludingQuery: String? = nil
    ) -> String? {
        canonicalRequestBytes(request, signedHeaders: signedHeaders, payloadHash: payloadHash, excludingQuery: excludingQuery)
            .map { String(decoding: $0, as: UTF8.self) }
    }

    /// `canonicalRequest`'s bytes, built in one buffer: what the signature check hashes (built as
    /// Strings, its pieces and their appends were a seventh of a cached S3 GET's instructions).
    package static func canonicalRequestBytes(
        _ request: HTTPRequest, signedHeaders: [String], payloadHash: String, excludingQuery: String? = nil
    ) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        out += request.method.utf8
        out.append(10)
        guard appendCanonicalURI(rawPath: request.sentPath, to: &out) else { return nil }
        out.append(10)
        if request.query.contains(where: { $0.name != excludingQuery }) {
            guard let query = canonicalQuery(request.query, excluding: excludingQuery) else { return nil }
            out += query.utf8
        }
        out.append(10)
        guard appendCanonicalHeaders(request.headers, signed: signedHeaders, to: &out) else { return nil }
        out.append(10)
        for (i, name) in signedHeaders.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ";")) }
            out += name.utf8
        }
        out.append(10)
        out += payloadHash.utf8
        return out
    }

    package static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        String(decoding: stringToSignBytes(amzDate: amzDate, scope: scope, canonicalRequest: Array(canonicalRequest.utf8)), as: UTF8.self)
    }

    /// `AWS4-HMAC-SHA256\n<amzDate>\n<scope>\n<hex SHA-256 of the canonical request>`.
    static func stringToSignBytes(amzDate: String, scope: String, canonicalRequest: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(algorithm.utf8.count + amzDate.utf8.count + scope.utf8.count + 67)
        out += algorithm.utf8
        out.append(10)
        out += amzDate.utf8
        out.append(10)
        out += scope.utf8
        out.append(10)
        SHA256.hash(data: canonicalRequest).withUnsafeBytes { appendHex($0, to: &out) }
        return out
    }

    /// The signature of a canonical request with an HMAC whose key schedule is already done.
    package static func signature(prepared: HMAC<SHA256>, amzDate: String, scope: String, canonicalRequest: [UInt8]) -> String {
        var hmac = prepared
        hmac.update(data: stringToSignBytes(amzDate: amzDate, scope: scope, canonicalRequest: canonicalRequest))
        return hmac.finalize().withUnsafeBytes { hex($0) }
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
        _ = withBytes(stringToSign) { bytes -> Void? in hmac.update(data: UnsafeRawBufferPointer(bytes)) }
        return hmac.finalize().withUnsafeBytes { hex($0) }
    }

    /// Lower-case hex of `bytes`, appended to `out`.
    static func appendHex(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        let digits: StaticString = "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            for byte in bytes {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 15)])
            }
        }
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

    /// Whether a hex signature as given (either case) is `expected` (lower-case hex), without an
    /// early exit and without copying either.
    package static func signatureMatches(expected: String, given: String) -> Bool {
        var expected = expected, given = given
        return expected.withUTF8 { a in
            given.withUTF8 { b in
                var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
                for i in 0..<max(a.count, b.count) {
                    let x = i < a.count ? a[i] : 0
                    var y = i < b.count ? b[i] : 0
                    if y >= UInt8(ascii: "A") && y <= UInt8(ascii: "F") { y |= 0x20 }
                    difference |= x ^ y
                }
                return difference == 0 && a.count == b.count
            }
        }
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
