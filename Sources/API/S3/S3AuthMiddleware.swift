// Authenticates every S3 request (SigV4 in the Authorization header or a presigned query) before
// its handler runs, and checks a hex `x-amz-content-sha256` against a buffered body (a streamed
// body's digest is checked by its sink, S3BodySink). Anonymous requests are refused. The signer
// (key, signing key, seed signature) travels in `context.s3` for permission checks and chunk
// signatures.
package import Crypto
import Foundation
import Synchronization

/// Who signed an S3 request, and what chunk signatures chain from.
package struct S3Principal: Sendable {
    package var key: AccessKey
    /// The SigV4 signing key's bytes (SymmetricKey is not Sendable).
    package var signingKeyBytes: [UInt8]
    package var signingKey: SymmetricKey { SymmetricKey(data: signingKeyBytes) }
    package var amzDate: String
    package var scope: String
    /// The request's signature: the seed of an aws-chunked body's chunk signatures.
    package var signature: String
    /// `x-amz-content-sha256` as signed (a hex digest, UNSIGNED-PAYLOAD or a STREAMING-… form).
    package var payloadHash: String
}

/// Derived SigV4 signing keys by key id and scope: four HMACs a request saved (a scope changes daily).
final class SigningKeyCache: Sendable {
    /// A derived signing key and an HMAC with it, its key schedule done.
    struct Prepared: @unchecked Sendable {
        // @unchecked: HMAC's digest states are copied on write, so a copy handed to another
        // thread is never changed under this one.
        let bytes: [UInt8]
        let hmac: HMAC<SHA256>
    }

    /// What a signing key is derived from besides the secret (a struct: building the scope text
    /// to look a key up was a fortieth of a cached S3 GET).
    private struct Name: Hashable {
        var id: String
        var date: String
        var region: String
        var service: String

        init(_ key: AccessKey, _ credential: SigV4.Credential) {
            (id, date, region, service) = (key.id, credential.date, credential.region, credential.service)
        }
    }

    private let keys = Mutex<[Name: Prepared]>([:])
    static let limit = 4096

    func cached(for key: AccessKey, _ credential: SigV4.Credential) -> Prepared? {
        keys.withLock { $0[Name(key, credential)] }
    }

    func derive(for key: AccessKey, _ credential: SigV4.Credential) -> Prepared {
        let derived = SigV4.signingKey(secret: key.secret, credential: credential)
        return Prepared(bytes: derived.withUnsafeBytes { Array($0) }, hmac: HMAC<SHA256>(key: derived))
    }

    /// Keeps a key that verified a signature.
    func remember(_ prepared: Prepared, for key: AccessKey, _ credential: SigV4.Credential) {
        let name = Name(key, credential)
        keys.withLock { keys in
            guard keys[name] == nil else { return }
            if keys.count >= Self.limit { keys.removeAll() }
            keys[name] = prepared
        }
    }
}

struct S3AuthMiddleware: Middleware {
    let store: AccessKeyStore
    let signingKeys = SigningKeyCache()
    static let maxSkew: TimeInterval = 15 * 60
    static let maxPresignedExpiry = 7 * 24 * 3600
    /// The clock (tests move it).
    var now: @Sendable () -> Date = { Date() }

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        // Verified on the event loop, from this very request, before a worker took it over.
        if context.s3 != nil { return try next(request, context) }
        // Forwarded to the bucket's node as it came, which checks the signature itself.
        if context.parameters[ForwardTarget.nodeParameter] != nil { return try next(request, context) }
        var context = context  // context.resource was set by Router.run.
        var authenticated = Result { () throws(S3Error) in try authenticate(request) }
        if case .failure(let error) = authenticated, error.code == S3Error.unknownKeyCode, store.looksUp {
            // In a fleet, a key made through another node since this one last read the fleet.
            guard context.mayBlock else { throw NeedsWorker() }
            authenticated = Result { () throws(S3Error) in try authenticate(request, lookUp: true) }
        }
        let principal = try authenticated.get()
        context.s3 = principal
        let streamed: Bool = if case .success(.stream) = context.resolution { true } else { false }
        if !streamed, Self.isHexDigest(principal.payloadHash), SigV4.sha256Hex(request.body) != principal.payloadHash {
            throw S3Error("XAmzContentSHA256Mismatch", 400, "The provided 'x-amz-content-sha256' header does not match what was computed.")
        }
        return try next(request, context)
    }

    /// Verifies the signature from the head, before a body is buffered: the head is all that is
    /// signed (the payload's hash is declared in it and compared with the body afterwards), so an
    /// unauthenticated body is dropped, never held.
    func refusal(ofHead head: HTTPRequest) -> (any Error)? {
        do {
            _ = try authenticate(head)
            return nil
        } catch {
            // An unknown key in a fleet is looked up by `handle`, on a worker.
            return error.code == S3Error.unknownKeyCode && store.looksUp ? nil : error
        }
    }

    static func isHexDigest(_ value: String) -> Bool {
        SigV4.withBytes(value) { bytes in bytes.count == 64 && bytes.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) } } ?? false
    }

    /// `lookUp`: a key not in memory is read from the fleet (blocks; in a fleet only).
    func authenticate(_ request: HTTPRequest, lookUp: Bool = false) throws(S3Error) -> S3Principal {
        if let header = request.header("authorization") {
            if header.hasPrefix("AWS ") { return try verifyV2Header(request, header, lookUp: lookUp) }
            guard let parsed = SigV4.HeaderAuthorization(header) else {
                throw S3Error("AuthorizationHeaderMalformed", 400, "The authorization header is malformed")
            }
            guard let amzDate = request.header("x-amz-date") else {
                throw .accessDenied("AWS authentication requires a valid Date or x-amz-date header")
            }
            try checkClock(amzDate)
            let payload = request.header("x-amz-content-sha256") ?? "UNSIGNED-PAYLOAD"
            guard parsed.signedHeaders.contains("host") else { throw .accessDenied("SignedHeaders must include host") }
            return try verify(
                request, credential: parsed.credential, amzDate: amzDate, signedHeaders: parsed.signedHeaders,
                excludingQuery: nil, payloadHash: payload, signature: parsed.signature, lookUp: lookUp)
        }
        func query(_ name: String) -> String? {
            request.query.last { $0.name == name }?.value.flatMap { PercentDecoding.decode($0) }
        }
        if let signature = query("Signature"), let id = query("AWSAccessKeyId"), let expires = query("Expires") {
            return try verifyV2Query(request, id: id, signature: signature, expires: expires, lookUp: lookUp)
        }
        guard let signature = query("X-Amz-Signature") else {
            throw .accessDenied("Anonymous access is not allowed: sign the request with an access key")
        }
        guard query("X-Amz-Algorithm") == SigV4.algorithm, let credential = query("X-Amz-Credential").flatMap(SigV4.Credential.init),
            let amzDate = query("X-Amz-Date"), let date = SigV4.parseAmzDate(amzDate),
            let expires = query("X-Amz-Expires").flatMap({ WireNumber.bounded($0, limit: Int64(Self.maxPresignedExpiry) + 1) }).map(Int.init),
            let signed = query("X-Amz-SignedHeaders")
        else {
            throw S3Error(
                "AuthorizationQueryParametersError", 400,
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
        }
        guard (1...Self.maxPresignedExpiry).contains(expires) else {
            throw S3Error("AuthorizationQueryParametersError", 400, "X-Amz-Expires must be between 1 and \(Self.maxPresignedExpiry) seconds")
        }
        if date.timeIntervalSince(now()) > Self.maxSkew { throw .accessDenied("Request is not valid yet") }
        if now().timeIntervalSince(date) > TimeInterval(expires) { throw .accessDenied("Request has expired") }
        let signedHeaders = SigV4.signedHeaderNames(signed)
        guard signedHeaders.contains("host") else { throw .accessDenied("X-Amz-SignedHeaders must include host") }
        return try verify(
            request, credential: credential, amzDate: amzDate, signedHeaders: signedHeaders,
            excludingQuery: "X-Amz-Signature",
            payloadHash: query("X-Amz-Content-Sha256") ?? "UNSIGNED-PAYLOAD", signature: signature, lookUp: lookUp)
    }

    /// `Authorization: AWS id:signature` (Signature Version 2).
    private func verifyV2Header(_ request: HTTPRequest, _ header: String, lookUp: Bool) throws(S3Error) -> S3Principal {
        let credentials = header.dropFirst("AWS ".count)
        guard let colon = credentials.lastIndex(of: ":") else {
            throw S3Error("AuthorizationHeaderMalformed", 400, "The authorization header is malformed")
        }
        let (id, signature) = (String(credentials[..<colon]), String(credentials[credentials.index(after: colon)...]))
        // The date signed is Date, or empty when x-amz-date carries it (as x-amz-* headers are signed).
        let date: String
        if let amzDate = request.header("x-amz-date") {
            guard let parsed = HTTPDate.parse(amzDate) ?? SigV4.parseAmzDate(amzDate) else { throw .accessDenied("x-amz-date is malformed") }
            if abs(parsed.timeIntervalSince(now())) > Self.maxSkew {
                throw S3Error("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")
            }
            date = ""
        } else {
            guard let header = request.header("date"), let parsed = HTTPDate.parse(header) else {
                throw .accessDenied("AWS authentication requires a valid Date or x-amz-date header")
            }
            if abs(parsed.timeIntervalSince(now())) > Self.maxSkew {
                throw S3Error("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")
            }
            date = header
        }
        return try verifyV2(request, id: id, signature: signature, date: date, lookUp: lookUp)
    }

    /// `?AWSAccessKeyId=…&Signature=…&Expires=…` (a Signature Version 2 presigned URL).
    private func verifyV2Query(_ request: HTTPRequest, id: String, signature: String, expires: String, lookUp: Bool) throws(S3Error) -> S3Principal {
        // An integer, and no further off than a SigV4 presigned URL may be (7 days).
        guard let seconds = WireNumber.bounded(expires, limit: Int64(now().timeIntervalSince1970) + Int64(Self.maxPresignedExpiry)) else {
            throw .accessDenied("Expires must be an integer number of seconds since the epoch, at most \(Self.maxPresignedExpiry) seconds ahead")
        }
        if Int64(now().timeIntervalSince1970) > seconds { throw .accessDenied("Request has expired") }
        var unsigned = request
        unsigned.query.removeAll { ["Signature", "AWSAccessKeyId", "Expires"].contains($0.name) }
        return try verifyV2(unsigned, id: id, signature: signature, date: expires, lookUp: lookUp)
    }

    private func verifyV2(_ request: HTTPRequest, id: String, signature: String, date: String, lookUp: Bool) throws(S3Error) -> S3Principal {
        let key = try accessKey(id, lookUp: lookUp)
        let expected = SigV2.signature(secret: key.secret, SigV2.stringToSign(request, date: date))
        guard SigV4.constantTimeEqual(expected, signature) else { throw S3Error.signatureMismatch }
        return S3Principal(key: key, signingKeyBytes: [], amzDate: "", scope: "", signature: expected, payloadHash: "UNSIGNED-PAYLOAD")
    }

    private func accessKey(_ id: String, lookUp: Bool) throws(S3Error) -> AccessKey {
        guard let key = store.key(id: id) ?? (lookUp ? store.lookUp(id: id) : nil) else {
            throw S3Error(S3Error.unknownKeyCode, 403, "The AWS Access Key Id you provided does not exist in our records.")
        }
        return key
    }

    private func checkClock(_ amzDate: String) throws(S3Error) {
        guard let date = SigV4.parseAmzDate(amzDate) else { throw .accessDenied("x-amz-date is not in the ISO 8601 basic format (20130524T000000Z)") }
        if abs(date.timeIntervalSince(now())) > Self.maxSkew {
            throw S3Error("RequestTimeTooSkewed", 403, "The difference between the request time and the server's time is too large.")
        }
    }

    private func verify(
        _ request: HTTPRequest, credential: SigV4.Credential, amzDate: String, signedHeaders: [String], excludingQuery: String?, payloadHash: String,
        signature: String, lookUp: Bool
    ) throws(S3Error) -> S3Principal {
        guard credential.service == "s3", amzDate.hasPrefix(credential.date) else {
            throw S3Error("AuthorizationHeaderMalformed", 400, "The credential scope must be DATE/REGION/s3/aws4_request with the request's date")
        }
        let key = try accessKey(credential.accessKeyID, lookUp: lookUp)
        // Every x-amz-* header sent is part of what was signed, as S3 requires: a holder of a
        // presigned URL cannot add a copy source, metadata or a checksum the signer never saw.
        var unsigned: String?
        for name in request.headers.keys where name.utf8.starts(with: "x-amz-".utf8) && !signedHeaders.contains(name) {
            if unsigned.map({ name < $0 }) ?? true { unsigned = name }
        }
        if let unsigned { throw .accessDenied("There were headers present in the request which were not signed: \(unsigned)") }
        guard
            let canonical = SigV4.canonicalRequestBytes(
                request, signedHeaders: signedHeaders, payloadHash: payloadHash, excludingQuery: excludingQuery)
        else { throw S3Error.signatureMismatch }
        let scope = credential.scope
        // The cache is filled only once a signature matched: unauthenticated requests cannot churn it.
        let cached = signingKeys.cached(for: key, credential)
        let prepared = cached ?? signingKeys.derive(for: key, credential)
        let expected = SigV4.signature(prepared: prepared.hmac, amzDate: amzDate, scope: scope, canonicalRequest: canonical)
        guard SigV4.signatureMatches(expected: expected, given: signature) else { throw S3Error.signatureMismatch }
        if cached == nil { signingKeys.remember(prepared, for: key, credential) }
        return S3Principal(key: key, signingKeyBytes: prepared.bytes, amzDate: amzDate, scope: scope, signature: expected, payloadHash: payloadHash)
    }
}
