// Objects: GetObject / HeadObject (Range, conditionals, response-* overrides, checksums on
// request), PutObject (streamed, every check before the commit), CopyObject (server-side, COPY or
// REPLACE metadata, copy-source conditionals), DeleteObject, DeleteObjects, GetObjectAcl.
import Catalog
import Crypto
import Engine
import Foundation

extension S3Handlers {
    // MARK: GET / HEAD

    func objectGet(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (bucket, key) = (context.parameter("bucket"), context.parameter("key"))
        if let other = Self.unsupportedSubresource(request, served: ["acl", "uploadId", "versionId"]) {
            throw S3Error.notImplemented("GET ?\(other) on an object")
        }
        let principal = try require(.read, bucket, context)
        let plain = !Self.has(request, "uploadId") && !Self.has(request, "acl")
        // On the event loop only a plain GET of an object the cache holds; the rest on a worker.
        if !context.mayBlock, !plain { throw NeedsWorker() }
        if let uploadID = try Self.query(request, "uploadId") { return try listParts(request, context, bucket: bucket, key: key, uploadID: uploadID) }
        if Self.has(request, "acl") {
            try engine.openBuffered(volume: bucket, key: key).close()
            return Self.acl(principal)
        }
        let version = try Self.versionID(request)
        guard let reader = try openForGet(bucket, key, version: version, context) else { throw NeedsWorker() }
        let info = reader.info
        var headers = Self.objectHeaders(info)
        if version != nil || info.versionID != .null { headers.append(("x-amz-version-id", info.versionID.description)) }
        switch Self.conditions(request).evaluate(info) {
        case .proceed: break
        case .notModified:
            reader.close()
            return HTTPResponse(status: 304, headers: headers, stream: EmptyStream(length: 0))
        case .failed:
            reader.close()
            throw HTTPError.preconditionFailed("the object's ETag is \(Self.quoted(info.etag))")
        }
        let range: ObjectHandlers.RangeRequest
        do {
            range = try Self.partRange(request, info) ?? ObjectHandlers.parseRange(request.header("range"), size: info.size)
        } catch {
            reader.close()
            throw error
        }
        if request.header("x-amz-checksum-mode")?.uppercased() == "ENABLED", range == .whole {
            for (algorithm, value) in info.checksums.sorted(by: { $0.key < $1.key }) {
                if let known = S3ChecksumAlgorithm(name: algorithm) { headers.append((known.header, value)) }
            }
        }
        try Self.applyOverrides(request, &headers)
        switch range {
        case .whole:
            return try ObjectHandlers.objectBody(reader, request, context, status: 200, headers: headers, start: 0, length: info.size)
        case .partial(let start, let end):
            headers.append(("Content-Range", "bytes \(start)-\(end)/\(info.size)"))
            return try ObjectHandlers.objectBody(reader, request, context, status: 206, headers: headers, start: start, length: end - start + 1)
        case .unsatisfiable:
            reader.close()
            throw HTTPError.rangeNotSatisfiable(size: info.size)
        }
    }

    /// The version a GET or HEAD reads; nil when the event loop cannot open it from memory. A key
    /// hidden by a delete marker answers NoSuchKey saying so (`x-amz-delete-marker`), as S3 does.
    func openForGet(_ bucket: String, _ key: String, version: VersionID?, _ context: RequestContext) throws -> (any ObjectSource)? {
        do {
            return try engine.openRead(volume: bucket, key: key, version: version, io: .buffered, mayWait: context.mayBlock)
        } catch {
            guard case .objectNotFound = error else { throw error }
            guard context.mayBlock else { throw NeedsWorker() }
            var missing = S3Error("NoSuchKey", 404, "The specified key does not exist.")
            if let marker = try engine.latestDeleteMarker(volume: bucket, key: key) {
                missing.headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", marker.description)]
            }
            throw missing
        }
    }

    /// `?partNumber=N`: the bytes of the object's part N (its parts as the Complete made them; an
    /// object not uploaded in parts is one part), answered as a range (206); nil without it.
    static func partRange(_ request: HTTPRequest, _ info: ObjectInfo) throws -> ObjectHandlers.RangeRequest? {
        guard let raw = try query(request, "partNumber") else { return nil }
        guard let number = WireNumber.bounded(raw, limit: Engine.maxPartNumber), number >= 1 else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Engine.maxPartNumber), inclusive")
        }
        guard request.header("range") == nil else { throw S3Error.invalidRequest("Cannot specify both Range header and partNumber query parameter") }
        let multipart = partsCount(info.etag) != nil
        guard !multipart || !info.parts.isEmpty else {
            throw S3Error.notImplemented("GET ?partNumber of a multipart object completed before part sizes were kept")
        }
        let parts = info.parts.isEmpty ? [info.size] : info.parts
        guard number <= parts.count else { throw S3Error("InvalidPartNumber", 416, "The requested partnumber is not satisfiable") }
        let start = parts[..<Int(number - 1)].reduce(0, +)
        let length = parts[Int(number - 1)]
        // An empty part (an empty last part) has no byte range to send: 416, unless the object is empty.
        if length == 0 { return info.size == 0 ? .whole : .unsatisfiable }
        return .partial(start: start, end: start + length - 1)
    }

    /// The number of parts a multipart ETag (`<md5>-<parts>`) names; nil for another ETag.
    static func partsCount(_ etag: String) -> Int? {
        guard let dash = etag.utf8.lastIndex(of: UInt8(ascii: "-")) else { return nil }
        return Int(Substring(etag.utf8[etag.utf8.index(after: dash)...]))
    }

    /// The headers of an object's GET/HEAD answer (before overrides).
    static func objectHeaders(_ info: ObjectInfo) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = [
            ("ETag", quoted(info.etag)), ("Last-Modified", HTTPDate.format(info.modifiedAt)), ("Accept-Ranges", "bytes"),
            ("Content-Type", info.contentType ?? ObjectHandlers.defaultContentType),
        ]
        for (name, value) in info.metadata.sorted(by: { $0.key < $1.key }) { headers.append((name, value)) }
        // A multipart ETag ends in `-<parts>`.
        if let parts = partsCount(info.etag) { headers.append(("x-amz-mp-parts-count", String(parts))) }
        return headers
    }

    /// `response-content-type` and the other overrides of a GET (signed requests only, as S3).
    static func applyOverrides(_ request: HTTPRequest, _ headers: inout [(name: String, value: String)]) throws {
        let overrides = [
            ("response-content-type", "Content-Type"), ("response-content-language", "Content-Language"), ("response-expires", "Expires"),
            ("response-cache-control", "Cache-Control"), ("response-content-disposition", "Content-Disposition"),
            ("response-content-encoding", "Content-Encoding"),
        ]
        for (parameter, header) in overrides {
            guard let value = try query(request, parameter) else { continue }
            headers.removeAll { $0.name.caseInsensitiveCompare(header) == .orderedSame }
            headers.append((header, value))
        }
    }

    /// S3's conditions of a GET/HEAD (or, with `prefix` "x-amz-copy-source-", of a copy's source):
    /// entity tags quoted or bare, dates as HTTP dates (an unparsable date is ignored, as S3 does).
    static func conditions(_ request: HTTPRequest, prefix: String = "") -> ReadConditions {
        ReadConditions(
            ifMatch: request.header(prefix + "if-match").map { ObjectHandlers.tags($0, unquotedToo: true) },
            ifNoneMatch: request.header(prefix + "if-none-match").map { ObjectHandlers.tags($0, unquotedToo: true) },
            ifUnmodifiedSince: request.header(prefix + "if-unmodified-since").flatMap(HTTPDate.parse),
            ifModifiedSince: request.header(prefix + "if-modified-since").flatMap(HTTPDate.parse))
    }

    // MARK: PUT

    func objectPut(_ request: HTTPRequest, _ context: RequestContext) throws -> any RequestBodySink {
        let (bucket, key) = (context.parameter("bucket"), context.parameter("key"))
        if let other = Self.unsupportedSubresource(request, served: ["uploadId"]) { throw S3Error.notImplemented("PUT ?\(other) on an object") }
        let principal = try require(.write, bucket, context)
        let uploadID = try Self.query(request, "uploadId")
        let partNumber = try Self.query(request, "partNumber")
        if (uploadID == nil) != (partNumber == nil) { throw S3Error.invalidArgument("UploadPart needs both uploadId and partNumber") }
        if let source = request.header("x-amz-copy-source") {
            // The copy runs when the (empty) body is finished, on a worker: it may wait there.
            var context = context
            context.mayBlock = true
            return CopySink { [self, context] in
                if let uploadID, let partNumber {
                    return try copyPart(request, context, bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber, source: source)
                }
                return try copyObject(request, context, bucket: bucket, key: key, source: source)
            }
        }
        var expectations = try Self.expectations(request, principal)
        let length: Int64? = if let decoded = expectations.decodedLength { decoded } else { try ObjectHandlers.declaredLength(request) }
        if expectations.chunked != nil, expectations.decodedLength == nil {
            throw S3Error("MissingContentLength", 411, "x-amz-decoded-content-length is needed with a streaming (aws-chunked) body")
        }
        if !context.mayBlock {
            // On the event loop: only what memory makes certain, before a client waiting for
            // 100 Continue (or sending a large body) sends it; the rest is opened by a worker.
            if ObjectHandlers.mustOpenBeforeBody(request) { try engine.refuseUploadEarly(volume: bucket, length: length) }
            throw NeedsWorker()
        }
        if let uploadID, let partNumber {
            guard let number = WireNumber.bounded(partNumber, limit: Engine.maxPartNumber), number >= 1 else {
                throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Engine.maxPartNumber), inclusive")
            }
            let writer = try engine.beginPart(volume: bucket, key: key, uploadID: uploadID, number: number, length: length)
            expectations.decodedLength = expectations.chunked == nil ? nil : length
            return S3BodySink(writer: .part(writer), expectations: expectations) { info, checksums in
                Self.putAnswer(info, checksums)
            }
        }
        let contentType = Self.contentType(request)
        guard contentType.utf8.count <= 256 else { throw S3Error.invalidArgument("Content-Type is longer than 256 bytes") }
        let metadata = try Self.metadata(from: request)
        // Durable before the answer, buffered (a small one stays cached for reads), as the native API's default.
        let upload = try engine.openWrite(
            volume: bucket, key: key,
            WriteOptions(
                io: .buffered, sync: true, length: length, contentType: contentType, metadata: metadata,
                conditions: Self.writeConditions(request)))
        return S3BodySink(writer: .object(upload), expectations: expectations) { info, checksums in Self.putAnswer(info, checksums) }
    }

    static func putAnswer(_ info: ObjectInfo, _ checksums: [String: String]) -> HTTPResponse {
        var headers: [(name: String, value: String)] = [("ETag", quoted(info.etag))]
        if info.versionID != .null { headers.append(("x-amz-version-id", info.versionID.description)) }
        for (algorithm, value) in checksums {
            if let known = S3ChecksumAlgorithm(name: algorithm) { headers.append((known.header, value)) }
        }
        return HTTPResponse(status: 200, headers: headers)
    }

    /// What an upload's headers promise about its body.
    static func expectations(_ request: HTTPRequest, _ principal: S3Principal) throws -> S3BodySink.Expectations {
        var expectations = S3BodySink.Expectations()
        let payload = principal.payloadHash
        if S3AuthMiddleware.isHexDigest(payload) {
            expectations.payloadSHA256 = payload
        } else if payload.hasPrefix("STREAMING-") {
            guard let form = AWSChunkedDecoder.Form(rawValue: payload) else {
                throw S3Error.notImplemented("x-amz-content-sha256 \(payload)")
            }
            let signer =
                form.signsChunks
                ? AWSChunkedDecoder.Signer(
                    key: principal.signingKey, amzDate: principal.amzDate, scope: principal.scope, previous: principal.signature)
                : nil
            expectations.chunked = AWSChunkedDecoder(form: form, signer: signer)
            if let raw = request.header("x-amz-decoded-content-length") {
                guard let value = WireNumber.bounded(raw) else {
                    throw S3Error.invalidArgument("x-amz-decoded-content-length must be a non-negative integer")
                }
                expectations.decodedLength = value
            }
        } else if payload != "UNSIGNED-PAYLOAD" {
            throw S3Error.invalidArgument("x-amz-content-sha256 must be a SHA-256 hex digest, UNSIGNED-PAYLOAD or a STREAMING- form")
        }
        if let md5 = request.header("content-md5") {
            guard let digest = Data(base64Encoded: md5.trimmingCharacters(in: .whitespaces)), digest.count == 16 else {
                throw S3Error("InvalidDigest", 400, "The Content-MD5 you specified is not valid.")
            }
            expectations.contentMD5 = digest
        }
        for algorithm in S3ChecksumAlgorithm.allCases {
            guard let value = request.header(algorithm.header)?.trimmingCharacters(in: .whitespaces) else { continue }
            guard let digest = Data(base64Encoded: value), digest.count == algorithm.digestBytes else {
                throw S3Error.invalidRequest("Value for \(algorithm.header) header is invalid.")
            }
            guard expectations.checksum == nil else {
                throw S3Error.invalidRequest("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
            }
            expectations.checksum = (algorithm, value)
        }
        if let trailer = request.header("x-amz-trailer")?.trimmingCharacters(in: .whitespaces).lowercased(), !trailer.isEmpty {
            guard expectations.chunked != nil else { throw S3Error.invalidRequest("x-amz-trailer needs a STREAMING-…-TRAILER body") }
            guard let algorithm = S3ChecksumAlgorithm(header: trailer) else {
                throw S3Error.invalidRequest("The trailer \(trailer) is not supported")
            }
            guard expectations.checksum == nil else { throw S3Error.invalidRequest("A checksum is sent both as a header and a trailer") }
            expectations.checksum = (algorithm, nil)
        }
        return expectations
    }

    // MARK: DELETE

    func objectDelete(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (bucket, key) = (context.parameter("bucket"), context.parameter("key"))
        if let other = Self.unsupportedSubresource(request, served: ["uploadId", "versionId"]) {
            throw S3Error.notImplemented("DELETE ?\(other) on an object")
        }
        try require(.write, bucket, context)
        if let uploadID = try Self.query(request, "uploadId") {
            try engine.abortUpload(volume: bucket, key: key, uploadID: uploadID)
            return .noContent()
        }
        let version = try Self.versionID(request)
        var headers: [(name: String, value: String)] = []
        if let deleted = try deleteIfPresent(bucket, key, version: version), version != nil || deleted.versionID != .null || deleted.deleteMarker {
            headers.append(("x-amz-version-id", deleted.versionID.description))
            if deleted.deleteMarker { headers.append(("x-amz-delete-marker", "true")) }
        }
        return HTTPResponse(status: 204, headers: headers)
    }

    func deleteObjects(_ request: HTTPRequest, _ context: RequestContext, bucket: String) throws -> HTTPResponse {
        try require(.write, bucket, context)
        _ = try engine.volume(named: bucket)
        // S3 requires the body's integrity proven: a Content-MD5 or an x-amz-checksum-* header.
        guard request.header("content-md5") != nil || S3ChecksumAlgorithm.allCases.contains(where: { request.header($0.header) != nil }) else {
            throw S3Error.invalidRequest("Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)")
        }
        if let md5 = request.header("content-md5") {
            guard Data(base64Encoded: md5.trimmingCharacters(in: .whitespaces)) == Data(Insecure.MD5.hash(data: request.body)) else {
                throw S3Error.badDigest("The Content-MD5 you specified did not match what we received.")
            }
        }
        for algorithm in S3ChecksumAlgorithm.allCases {
            guard let value = request.header(algorithm.header)?.trimmingCharacters(in: .whitespaces) else { continue }
            guard S3Checksum.of(algorithm, request.body) == value else {
                throw S3Error.badDigest("The \(algorithm.rawValue) you specified did not match the calculated checksum.")
            }
        }
        let root = try XMLNode.parse(request.body)
        guard root.name == "Delete" else { throw S3Error.malformedXML("expected a Delete element") }
        let quiet = root.child("Quiet")?.trimmedText.lowercased() == "true"
        let objects = root.all("Object")
        guard !objects.isEmpty, objects.count <= Self.maxKeys else { throw S3Error.malformedXML("Delete lists 1 to \(Self.maxKeys) objects") }
        var xml = S3XML()
        xml.open("DeleteResult", namespaced: true)
        for object in objects {
            guard let key = object.child("Key")?.text, !key.isEmpty else { throw S3Error.malformedXML("an Object without a Key") }
            let rawVersion = object.child("VersionId")?.trimmedText
            do {
                let version = try rawVersion.map(Self.versionID(parsing:))
                let deleted = try deleteIfPresent(bucket, key, version: version)
                if !quiet {
                    xml.open("Deleted")
                    xml.element("Key", key)
                    if let rawVersion { xml.element("VersionId", rawVersion) }
                    if let deleted, deleted.deleteMarker {
                        xml.element("DeleteMarker", "true")
                        xml.element("DeleteMarkerVersionId", deleted.versionID.description)
                    }
                    xml.close("Deleted")
                }
            } catch {
                let s3 = S3ErrorMapping.classify(error)
                xml.open("Error")
                xml.element("Key", key)
                if let rawVersion { xml.element("VersionId", rawVersion) }
                xml.element("Code", s3.code)
                xml.element("Message", s3.message)
                xml.close("Error")
            }
        }
        xml.close("DeleteResult")
        return S3XML.response(xml)
    }

    /// S3 answers a delete of a missing key (or version) like any other; in a bucket that keeps
    /// versions a delete without a version adds a delete marker even then. Returns the version
    /// deleted or the marker added, when there was one.
    @discardableResult
    func deleteIfPresent(_ bucket: String, _ key: String, version: VersionID? = nil) throws(EngineError) -> ObjectInfo? {
        do {
            return try engine.deleteObject(volume: bucket, key: key, version: version, markerIfAbsent: true)
        } catch {
            switch error {
            case .objectNotFound, .versionNotFound: return nil
            default: throw error
            }
        }
    }

    func objectPost(_ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let (bucket, key) = (context.parameter("bucket"), context.parameter("key"))
        if Self.has(request, "uploads") { return try createUpload(request, context, bucket: bucket, key: key) }
        if let uploadID = try Self.query(request, "uploadId") {
            return try completeUpload(request, context, bucket: bucket, key: key, uploadID: uploadID)
        }
        throw S3Error.notImplemented("POST on an object without ?uploads or ?uploadId")
    }
}

/// The body of a copy (none is expected): the copy runs when the (empty) body is in.
final class CopySink: RequestBodySink, @unchecked Sendable {
    private let run: () throws -> HTTPResponse
    init(_ run: @escaping () throws -> HTTPResponse) { self.run = run }
    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.isEmpty else { throw S3Error.invalidRequest("A copy request carries no body") }
    }
    func finish() throws -> HTTPResponse { try run() }
    func abort() {}
}
