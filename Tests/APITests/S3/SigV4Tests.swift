import Crypto
import Foundation
import Testing

// SigV4 against AWS's published vectors (SigV4Vectors.json: the aws-sig-v4 test suite as botocore
// vendors it, and the Amazon S3 documentation's examples): canonical request, string to sign and
// signature; presigned URLs; and aws-chunked bodies decoded with each chunk's signature checked,
// cut at any boundary, tampered, truncated, with a signed trailer.
@testable import API

@Suite struct SigV4Tests {
    nonisolated(unsafe) static let vectors: [String: Any] = {  // Read once, never written.
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("SigV4Vectors.json")
        return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }()

    static func credentials(_ set: String) -> [String: String] { (vectors["credentials"] as! [String: Any])[set] as! [String: String] }

    static func splitQuery(_ raw: String) -> [(name: String, value: String?)] {
        raw.isEmpty
            ? []
            : raw.split(separator: "&", omittingEmptySubsequences: false).map { pair in
                guard let eq = pair.firstIndex(of: "=") else { return (String(pair), nil) }
                return (String(pair[..<eq]), String(pair[pair.index(after: eq)...]))
            }
    }

    /// A raw .req of the test suite as the server would see it.
    static func parse(_ raw: String) -> HTTPRequest {
        let (head, body) =
            raw.components(separatedBy: "\n\n").count > 1
            ? (raw.components(separatedBy: "\n\n")[0], raw.components(separatedBy: "\n\n").dropFirst().joined(separator: "\n\n"))
            : (raw, "")
        var lines = head.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        let method = String(requestLine.prefix { $0 != " " })
        var target = String(requestLine.dropFirst(method.count + 1))
        if target.hasSuffix(" HTTP/1.1") { target = String(target.dropLast(" HTTP/1.1".count)) }
        let (path, query) = target.firstIndex(of: "?").map { (String(target[..<$0]), String(target[target.index(after: $0)...])) } ?? (target, "")
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = String(line[line.index(after: colon)...])
            headers[name] = headers[name].map { $0 + "," + value } ?? value
        }
        // The path goes to the server percent-encoded, as any client sends it.
        let encodedPath = SigV4.uriEncode(path, encodeSlash: false).replacingOccurrences(of: "%25", with: "%")
        return HTTPRequest(method: method, path: encodedPath, query: splitQuery(query), headers: headers, body: Array(body.utf8))
    }

    static func sign(_ canonical: String, amzDate: String, credential: SigV4.Credential, secret: String) -> (sts: String, signature: String) {
        let sts = SigV4.stringToSign(amzDate: amzDate, scope: credential.scope, canonicalRequest: canonical)
        return (sts, SigV4.signature(key: SigV4.signingKey(secret: secret, credential: credential), stringToSign: sts))
    }

    static var suiteCases: [String] {
        // Multi-line header values are folded by the HTTP layer before signing; not S3's concern.
        (vectors["suite"] as! [[String: Any]]).map { $0["name"] as! String }.filter { $0 != "get-header-value-multiline" }
    }

    @Test(arguments: suiteCases)
    func testSuite(_ name: String) throws {
        let vector = (Self.vectors["suite"] as! [[String: Any]]).first { $0["name"] as! String == name }!
        var request = Self.parse(vector["request"] as! String)
        let authorization = try #require(SigV4.HeaderAuthorization(vector["authorization"] as! String))
        // The .req of the session-token case leaves out the token it signs: the .sreq has it.
        if authorization.signedHeaders.contains(where: { request.headers[$0] == nil }) {
            request = Self.parse(vector["signed_request"] as! String)
            request.headers["authorization"] = nil
        }
        let canonical = try #require(
            SigV4.canonicalRequest(
                request, signedHeaders: authorization.signedHeaders, payloadHash: SigV4.sha256Hex(request.body)))
        #expect(canonical == vector["canonical_request"] as! String)
        let credentials = Self.credentials("suite")
        let (sts, signature) = Self.sign(
            canonical, amzDate: credentials["date"]!, credential: authorization.credential, secret: credentials["secret_key"]!)
        #expect(sts == vector["string_to_sign"] as! String)
        #expect(signature == vector["signature"] as! String)
        #expect(authorization.signature == signature)
        // The server's path: the canonical request's bytes into a prepared HMAC, compared in any case.
        let bytes = try #require(
            SigV4.canonicalRequestBytes(request, signedHeaders: authorization.signedHeaders, payloadHash: SigV4.sha256Hex(request.body)))
        let key = SigV4.signingKey(secret: credentials["secret_key"]!, credential: authorization.credential)
        let served = SigV4.signature(
            prepared: HMAC<SHA256>(key: key), amzDate: credentials["date"]!, scope: authorization.credential.scope, canonicalRequest: bytes)
        #expect(served == vector["signature"] as! String)
        #expect(SigV4.signatureMatches(expected: served, given: signature.uppercased()))
    }

    @Test func signaturesMatchInEitherCaseAndOnlyExactly() {
        let expected = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        #expect(SigV4.signatureMatches(expected: expected, given: expected))
        #expect(SigV4.signatureMatches(expected: expected, given: expected.uppercased()))
        #expect(!SigV4.signatureMatches(expected: expected, given: String(expected.dropLast())))
        #expect(!SigV4.signatureMatches(expected: expected, given: expected + "0"))
        #expect(!SigV4.signatureMatches(expected: expected, given: String(expected.dropLast()) + "0"))
        #expect(!SigV4.signatureMatches(expected: expected, given: ""))
        // Case folding is for hex digits only: a byte that differs by 0x20 elsewhere is not equal.
        #expect(!SigV4.signatureMatches(expected: "5fa0", given: "5fa\u{10}"))
    }

    /// A plain path (unreserved bytes and slashes) is taken as sent; any other goes through the
    /// decode-and-encode path: both give what `canonicalURI` does.
    @Test(arguments: ["/bucket/key", "/", "/a/b.c-d_e~f/", "/bucket/a%20b", "/bucket/a+b", "/bucket/%E2%82%AC", "/bucket//x", ""])
    func canonicalURIOfPlainAndEncodedPaths(_ path: String) throws {
        var bytes: [UInt8] = []
        #expect(SigV4.appendCanonicalURI(rawPath: path, to: &bytes))
        #expect(String(decoding: bytes, as: UTF8.self) == SigV4.canonicalURI(rawPath: path))
    }

    @Test func s3DocumentationExamples() throws {
        let credentials = Self.credentials("s3")
        for vector in Self.vectors["s3"] as! [[String: Any]] {
            let query = (vector["query"] as! [[String]]).map { (name: $0[0], value: Optional($0[1])) }
            let headers = vector["headers"] as! [String: String]
            let request = HTTPRequest(
                method: vector["method"] as! String, path: SigV4.uriEncode(vector["path"] as! String, encodeSlash: false), query: query,
                headers: headers)
            let authorization = try #require(
                SigV4.HeaderAuthorization((vector["authorization"] as! String).replacingOccurrences(of: ",", with: ", ")))
            let canonical = try #require(
                SigV4.canonicalRequest(request, signedHeaders: authorization.signedHeaders, payloadHash: headers["x-amz-content-sha256"]!))
            #expect(canonical == vector["canonical_request"] as! String, "\(vector["name"]!)")
            let (sts, signature) = Self.sign(
                canonical, amzDate: credentials["date"]!, credential: authorization.credential, secret: credentials["secret_key"]!)
            #expect(sts == vector["string_to_sign"] as! String)
            #expect(signature == vector["signature"] as! String, "\(vector["name"]!)")
        }
    }

    @Test func presignedURL() throws {
        let credentials = Self.credentials("s3")
        let vector = (Self.vectors["presigned"] as! [[String: Any]])[0]
        let url = try #require(URLComponents(string: vector["url"] as! String))
        let query = Self.splitQuery(url.percentEncodedQuery ?? "")
        let request = HTTPRequest(method: "GET", path: url.percentEncodedPath, query: query, headers: vector["headers"] as! [String: String])
        let canonical = try #require(
            SigV4.canonicalRequest(request, signedHeaders: ["host"], payloadHash: "UNSIGNED-PAYLOAD", excludingQuery: "X-Amz-Signature"))
        #expect(canonical == vector["canonical_request"] as! String)
        let credential = try #require(SigV4.Credential("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"))
        let (_, signature) = Self.sign(canonical, amzDate: credentials["date"]!, credential: credential, secret: credentials["secret_key"]!)
        #expect(signature == vector["signature"] as! String)
        #expect(query.first { $0.name == "X-Amz-Signature" }?.value == signature)
    }

    // MARK: aws-chunked

    static var s3Signer: (SymmetricKey, String) {
        let credential = SigV4.Credential("AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request")!
        return (SigV4.signingKey(secret: credentials("s3")["secret_key"]!, credential: credential), credential.scope)
    }

    /// The documentation's body: 65536 and 1024 bytes of `a`, each signed, then the final chunk
    /// (and, in the trailer form, the signed trailer).
    static func chunkedBody(_ example: [String: Any], trailer: String? = nil) -> [UInt8] {
        var body: [UInt8] = []
        for chunk in example["chunks"] as! [[String: Any]] {
            let size = chunk["size"] as! Int
            body += Array("\(String(size, radix: 16));chunk-signature=\(chunk["signature"] as! String)\r\n".utf8)
            body += [UInt8](repeating: UInt8(ascii: "a"), count: size) + Array("\r\n".utf8)
        }
        body += Array("0;chunk-signature=\(example["final_signature"] as! String)\r\n".utf8)
        body += Array((trailer ?? "\r\n").utf8)
        return body
    }

    static func decoder(_ form: AWSChunkedDecoder.Form, seed: String) -> AWSChunkedDecoder {
        let (key, scope) = s3Signer
        return AWSChunkedDecoder(form: form, signer: .init(key: key, amzDate: "20130524T000000Z", scope: scope, previous: seed))
    }

    /// Feeds `body` in pieces cut at `cuts`; returns the decoded bytes.
    static func decode(_ decoder: inout AWSChunkedDecoder, _ body: [UInt8], cuts: [Int]) throws -> [UInt8] {
        var out: [UInt8] = []
        var start = 0
        for end in (cuts + [body.count]).sorted() where end >= start {
            try body[start..<end].withUnsafeBytes { piece in try decoder.feed(piece) { out += $0 } }
            start = end
        }
        return out
    }

    @Test func chunkedBodyDecodesAtAnyBoundary() throws {
        let example = Self.vectors["chunked"] as! [String: Any]
        let seed = example["seed_signature"] as! String
        let body = Self.chunkedBody(example)
        #expect(body.count == 66824)
        var generator = SystemRandomNumberGenerator()
        // Whole, byte by byte through the headers, and at random cuts.
        let cutSets: [[Int]] = [[], Array(0..<120) + Array(65600..<65700), (0..<40).map { _ in Int.random(in: 0...body.count, using: &generator) }]
        for cuts in cutSets {
            var decoder = Self.decoder(.signed, seed: seed)
            let decoded = try Self.decode(&decoder, body, cuts: cuts)
            #expect(decoded == [UInt8](repeating: UInt8(ascii: "a"), count: 66560))
            #expect(decoder.isDone && decoder.decodedBytes == 66560)
        }
    }

    @Test func tamperedOrTruncatedChunkedBodiesAreRefused() throws {
        let example = Self.vectors["chunked"] as! [String: Any]
        let seed = example["seed_signature"] as! String
        let body = Self.chunkedBody(example)
        // A byte of data changed: that chunk's signature no longer matches.
        var changed = body
        changed[500] = UInt8(ascii: "b")
        var decoder = Self.decoder(.signed, seed: seed)
        #expect(throws: S3Error.signatureMismatch) { _ = try Self.decode(&decoder, changed, cuts: []) }
        // Another seed (another request's signature): the first chunk fails.
        decoder = Self.decoder(.signed, seed: String(repeating: "0", count: 64))
        #expect(throws: S3Error.signatureMismatch) { _ = try Self.decode(&decoder, body, cuts: []) }
        // A chunk without a signature in the signed form.
        decoder = Self.decoder(.signed, seed: seed)
        #expect(throws: S3Error.signatureMismatch) { _ = try Self.decode(&decoder, Array("5\r\nhello\r\n".utf8), cuts: []) }
        // Cut short: never done (the sink answers IncompleteBody).
        decoder = Self.decoder(.signed, seed: seed)
        _ = try Self.decode(&decoder, Array(body.dropLast(3)), cuts: [])
        #expect(!decoder.isDone)
        // A chunk longer than its size line says.
        decoder = Self.decoder(.unsignedTrailer, seed: seed)
        #expect(throws: S3Error.self) { _ = try Self.decode(&decoder, Array("3\r\nhello\r\n0\r\n\r\n".utf8), cuts: []) }
        // Garbage for a size.
        decoder = Self.decoder(.unsignedTrailer, seed: seed)
        #expect(throws: S3Error.self) { _ = try Self.decode(&decoder, Array("zz\r\n".utf8), cuts: []) }
    }

    @Test func signedTrailer() throws {
        let example = (Self.vectors["chunked"] as! [String: Any])["trailer"] as! [String: Any]
        let seed = example["seed_signature"] as! String
        let wire = example["trailer_wire"] as! String
        var decoder = Self.decoder(.signedTrailer, seed: seed)
        let decoded = try Self.decode(&decoder, Self.chunkedBody(example, trailer: wire), cuts: [66700, 66760])
        #expect(decoded.count == 66560 && decoder.isDone)
        #expect(decoder.trailers.map { "\($0.name):\($0.value)" } == ["x-amz-checksum-crc32c:sOO8/Q=="])
        #expect(S3Checksum.of(.crc32c, decoded) == "sOO8/Q==")
        // The trailer changed after signing: refused.
        decoder = Self.decoder(.signedTrailer, seed: seed)
        let forged = wire.replacingOccurrences(of: "sOO8/Q==", with: "AAAAAA==")
        #expect(throws: S3Error.signatureMismatch) { _ = try Self.decode(&decoder, Self.chunkedBody(example, trailer: forged), cuts: []) }
    }

    @Test func unsignedTrailerForm() throws {
        let payload = Array("hello, world".utf8)
        let crc = S3Checksum.of(.crc32, payload)
        let body = Array("5\r\nhello\r\n7\r\n, world\r\n0\r\nx-amz-checksum-crc32:\(crc)\r\n\r\n".utf8)
        for cut in 0...body.count {
            var decoder = AWSChunkedDecoder(form: .unsignedTrailer, signer: nil)
            #expect(try Self.decode(&decoder, body, cuts: [cut]) == payload)
            #expect(decoder.isDone && decoder.trailers.first?.value == crc)
        }
    }
}
