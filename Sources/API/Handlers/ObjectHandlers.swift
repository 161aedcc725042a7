// /v1/volumes/{name}/objects: streamed PUT, GET/HEAD with ranges and preconditions, DELETE, list.
import Catalog
import Engine
import Foundation

package struct ObjectHandlers {
    static let defaultContentType = "application/octet-stream"
    static let maxListLimit = 1000
    /// At most this many memory runs per zero-copy body. MHD 0.9.75 copies the iovec list into
    /// the connection's 32 KiB memory pool; when it does not fit it drops the connection and then
    /// aborts the process on a still-locked mutex. About 2000 entries fit (measured), so 512
    /// leaves room for large request headers. Cache pages filled in order are contiguous, so a
    /// 1 GiB object fresh in the cache needs about 130.
    static let maxSendSegments = 512
    let engine: Engine

    func register(in router: inout Router) {
        router.add("GET", "/v1/volumes/{name}/objects") { [engine] request, context in
            try Self.list(engine, request, context)
        }
        // Uploads are opened on the event loop (a refusal goes out before the body is sent) unless
        // opening would wait on a writeback; the body is then consumed on a worker.
        router.addStreaming("PUT", "/v1/volumes/{name}/objects/{key...}", inline: true) { [engine] request, context in
            try Self.openUpload(engine, request, context)
        }
        // Inline: answered on the event loop when the range is cached, else on a worker.
        router.add("GET", "/v1/volumes/{name}/objects/{key...}", inline: true) { [engine] request, context in
            try Self.get(engine, request, context)
        }
        router.add("DELETE", "/v1/volumes/{name}/objects/{key...}") { [engine] request, context in
            _ = try Self.ioMode(request)
            let deleted = try engine.deleteObject(
                volume: context.parameter("name"), key: context.parameter("key"), version: try Self.versionID(request))
            var headers: [(name: String, value: String)] = []
            if let deleted, deleted.versionID != .null || deleted.deleteMarker {
                headers.append(("X-Version-Id", deleted.versionID.description))
                if deleted.deleteMarker { headers.append(("X-Delete-Marker", "true")) }
            }
            return HTTPResponse(status: 204, headers: headers)
        }
        router.add("GET", "/v1/volumes/{name}/versions") { [engine] request, context in
            try Self.listVersions(engine, request, context)
        }
        router.addStreaming("PATCH", "/v1/volumes/{name}/objects/{key...}", inline: true) { [engine] request, context in
            try Self.openPatch(engine, request, context)
        }
        router.add("POST", "/v1/volumes/{name}/flush") { [engine] _, context in
            try engine.flushVolume(named: context.parameter("name"))
            return .noContent()
        }
    }

    /// `?io=buffered` (the default) goes through the page cache; `?io=direct` bypasses it.
    static func ioMode(_ request: HTTPRequest) throws(HTTPError) -> ObjectIO {
        guard let entry = request.query.last(where: { $0.name == "io" }) else { return .buffered }
        guard let mode = entry.value.flatMap(ObjectIO.init(rawValue:)) else {
            throw .badRequest("query parameter 'io' must be buffered or direct")
        }
        return mode
    }

    /// `sync` (the default) answers once durable; `async` once the data is in the cache with its
    /// space reserved. From `?durability=` or the `X-Durability` header.
    static func isSync(_ request: HTTPRequest) throws(HTTPError) -> Bool {
        func parse(_ value: String?) throws(HTTPError) -> Bool? {
            switch value?.lowercased() {
            case nil: return nil
            case "sync": return true
            case "async": return false
            default: throw .badRequest("durability must be sync or async")
            }
        }
        let header = try parse(request.header("x-durability"))
        return try parse(request.query.last(where: { $0.name == "durability" })?.value ?? nil) ?? header ?? true
    }

    package static func declaredLength(_ request: HTTPRequest) throws(HTTPError) -> Int64? {
        if request.header("transfer-encoding")?.lowercased().contains("chunked") == true { return nil }
        guard let raw = request.header("content-length") else { return nil }
        return try contentLength(raw)
    }

    /// A Content-Length value: digits only, at most the largest object (413 beyond it).
    static func contentLength(_ raw: String) throws(HTTPError) -> Int64 {
        switch WireNumber.parse(raw, limit: Engine.maxObjectBytes) {
        case .value(let value): return value
        case .tooLarge: throw .objectTooLarge(limit: Engine.maxObjectBytes)
        case .malformed: throw .badRequest("Content-Length must be a non-negative integer")
        }
    }

    /// `Content-Range: bytes a-b/*` (or `/total`): where a PATCH writes.
    package static func patchRange(_ request: HTTPRequest) throws(HTTPError) -> (offset: Int64, length: Int64) {
        guard let header = request.header("content-range")?.trimmingCharacters(in: .whitespaces), header.lowercased().hasPrefix("bytes ") else {
            throw .badRequest("PATCH needs Content-Range: bytes FIRST-LAST/*")
        }
        let spec = header.dropFirst("bytes ".count)
        // Positions bounded by the largest object, so LAST - FIRST + 1 cannot overflow.
        let limit = Engine.maxObjectBytes - 1
        guard let slash = spec.firstIndex(of: "/"), let dash = spec[..<slash].firstIndex(of: "-"),
            case let first = WireNumber.parse(spec[..<dash], limit: limit),
            case let last = WireNumber.parse(spec[spec.index(after: dash)..<slash], limit: limit),
            first != .malformed, last != .malformed,
            spec[spec.index(after: slash)...] == "*" || WireNumber.parse(spec[spec.index(after: slash)...]) != .malformed
        else {
            throw .badRequest("Content-Range must be bytes FIRST-LAST/* with FIRST <= LAST")
        }
        guard case .value(let first) = first, case .value(let last) = last else { throw .objectTooLarge(limit: Engine.maxObjectBytes) }
        guard last >= first else { throw .badRequest("Content-Range must be bytes FIRST-LAST/* with FIRST <= LAST") }
        // A complete length, when given, must hold the range (RFC 9110 §14.4) and fit an object.
        switch WireNumber.parse(spec[spec.index(after: slash)...], limit: Engine.maxObjectBytes) {
        case .tooLarge: throw .objectTooLarge(limit: Engine.maxObjectBytes)
        case .value(let total) where total <= last: throw .badRequest("Content-Range's complete length \(total) does not hold byte \(last)")
        default: break
        }
        let length = last - first + 1
        if let declared = try declaredLength(request), declared != length {
            throw .badRequest("Content-Range covers \(length) bytes but Content-Length is \(declared)")
        }
        return (first, length)
    }

    /// Whether an upload is opened on the event loop although opening reads the catalog (its
    /// space figures, under the accounting's lock; the object's row): only when a refusal must be
    /// answered before the body, to a client that waits for 100 Continue or sends a body too large
    /// to read and drop (libmicrohttpd cannot answer in the middle of a body). Every other upload
    /// is opened on a worker: SQL on the loops held up every connection on them (/healthz p99 under
    /// 64 mixed clients 93-150 ms, 4.5 ms once opened on workers).
    static func mustOpenBeforeBody(_ request: HTTPRequest) -> Bool {
        request.header("expect")?.lowercased() == "100-continue"
            || (request.header("content-length").flatMap { WireNumber.bounded($0) } ?? 0) > RequestPhase.discardLimit
    }

    /// On the event loop an upload is never opened (opening reads the catalog): a refusal that
    /// is certain from memory alone (malformed headers, a body no quota or pool could take) is
    /// answered before the body; anything else is opened by a worker.
    static func onLoop(_ engine: Engine, _ context: RequestContext, length: Int64?) throws -> Never {
        try engine.refuseUploadEarly(volume: context.parameter("name"), length: length)
        throw NeedsWorker()
    }

    static func openPatch(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> any RequestBodySink {
        let mode = try ioMode(request)
        let sync = try isSync(request)
        let (offset, length) = try patchRange(request)
        if !context.mayBlock { try onLoop(engine, context, length: nil) }
        let upload = try engine.openPatch(
            volume: context.parameter("name"), key: context.parameter("key"), offset: offset, length: length, io: mode, sync: sync)
        return UploadSink(target: upload, volume: context.parameter("name"), expectedMD5: nil, expectedSHA256: nil, created: 200, md5ETag: false)
    }

    static func openUpload(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> any RequestBodySink {
        let mode = try ioMode(request)
        let sync = try isSync(request)
        let length = try declaredLength(request)
        let contentType = request.header("content-type").flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 } ?? defaultContentType
        guard contentType.utf8.count <= 256 else { throw HTTPError.badRequest("Content-Type is longer than 256 bytes") }
        let md5 = try request.header("content-md5").map { value throws(HTTPError) in
            guard let digest = Data(base64Encoded: value.trimmingCharacters(in: .whitespaces)), digest.count == 16 else {
                throw .badRequest("Content-MD5 must be the base64 of 16 bytes")
            }
            return digest
        }
        let sha256 = try request.header("x-checksum-sha256").map { value throws(HTTPError) in
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if let digest = Data(hex: trimmed), digest.count == 32 { return digest }
            if let digest = Data(base64Encoded: trimmed), digest.count == 32 { return digest }
            throw .badRequest("x-checksum-sha256 must be 64 hex digits or the base64 of 32 bytes")
        }
        if !context.mayBlock { try onLoop(engine, context, length: mustOpenBeforeBody(request) ? length : nil) }
        let upload = try engine.openWrite(
            volume: context.parameter("name"), key: context.parameter("key"),
            WriteOptions(io: mode, sync: sync, length: length, contentType: contentType, conditions: writeConditions(request)))
        return UploadSink(target: upload, volume: context.parameter("name"), expectedMD5: md5, expectedSHA256: sha256, created: 201, md5ETag: true)
    }

    /// `?version_id=`: a version's id, or `null` (the null version); nil when not given.
    /// (`name`: another parameter that names a version, such as `version_id_marker`; empty counts as absent there.)
    static func versionID(_ request: HTTPRequest, _ name: String = "version_id") throws(HTTPError) -> VersionID? {
        guard let raw = try query(name, in: request), name == "version_id" || !raw.isEmpty else { return nil }
        guard let version = VersionID(parsing: raw) else {
            throw .badRequest("query parameter '\(name)' must be a version id (16 hex digits) or null")
        }
        return version
    }

    /// `?snapshot=`: read a snapshot of the volume instead of the volume; nil when not given.
    static func snapshotName(_ request: HTTPRequest) throws(HTTPError) -> String? {
        guard let name = try query("snapshot", in: request) else { return nil }
        guard !name.isEmpty else { throw .badRequest("query parameter 'snapshot' must name a snapshot") }
        return name
    }

    static func get(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let version = try versionID(request)
        let snapshot = try snapshotName(request)
        if version != nil, snapshot != nil { throw HTTPError.badRequest("give version_id or snapshot, not both") }
        // On the event loop only what memory holds; the rest (a miss, a direct read) on a worker.
        guard
            let reader = try engine.openRead(
                volume: context.parameter("name"), key: context.parameter("key"), version: version, snapshot: snapshot, io: try ioMode(request),
                mayWait: context.mayBlock)
        else { throw NeedsWorker() }
        let info = reader.info
        var headers: [(name: String, value: String)] = [
            ("ETag", quotedETag(info)), ("Last-Modified", HTTPDate.format(info.modifiedAt)), ("Accept-Ranges", "bytes"),
        ]
        if version != nil || info.versionID != .null { headers.append(("X-Version-Id", info.versionID.description)) }
        switch conditions(request).evaluate(info) {
        case .failed:
            reader.close()
            return ErrorMapping.response(for: HTTPError.preconditionFailed("the object's ETag is \(quotedETag(info))"), context: context)
        case .notModified:
            reader.close()
            // A body-less stream of the representation's length: MHD sends Content-Length from it
            // (RFC 9110 §8.6) and never reads a body for a 304.
            return HTTPResponse(status: 304, headers: headers, stream: EmptyStream(length: info.size))
        case .proceed:
            break
        }
        headers.append(("Content-Type", info.contentType ?? defaultContentType))
        func body(_ status: Int, start: Int64, length: Int64) throws -> HTTPResponse {
            try objectBody(reader, request, context, status: status, headers: headers, start: start, length: length)
        }
        switch parseRange(request.header("range"), size: info.size) {
        case .whole:
            return try body(200, start: 0, length: info.size)
        case .partial(let start, let end):
            headers.append(("Content-Range", "bytes \(start)-\(end)/\(info.size)"))
            return try body(206, start: start, length: end - start + 1)
        case .unsatisfiable:
            reader.close()
            var response = ErrorMapping.response(for: HTTPError.rangeNotSatisfiable(size: info.size), context: context)
            response.headers.append(("Content-Range", "bytes */\(info.size)"))
            return response
        }
    }

    /// A GET's (or HEAD's) answer from an opened version: `length` bytes from `start`. The first
    /// stretch is read (and verified) before the status goes out, so data that no replica can
    /// serve intact is an error answer rather than a cut-off 200. Closes `reader` unless the
    /// answer's body reads from it.
    static func objectBody(
        _ reader: any ObjectSource, _ request: HTTPRequest, _ context: RequestContext, status: Int, headers: [(name: String, value: String)],
        start: Int64, length: Int64
    ) throws -> HTTPResponse {
        // HEAD: the headers only (MHD takes Content-Length from the stream and never reads it).
        if request.method == "HEAD" {
            reader.close()
            return HTTPResponse(status: status, headers: headers, stream: EmptyStream(length: length))
        }
        // Wholly cached: sent from the cache's pages, pinned, without a copy. MHD keeps its
        // own copy of the iovec list in the connection's memory pool: only short lists.
        if let cached = reader as? BufferedReader, let pinned = cached.pin(at: start, length: length, maxSegments: maxSendSegments) {
            reader.close()
            return HTTPResponse(status: status, headers: headers, segments: pinned)
        }
        if !context.mayBlock {
            reader.close()
            throw NeedsWorker()
        }
        do {
            let stream = try ObjectStream(reader: reader, start: start, length: length)
            // A small body was read whole already: send it as a buffer (cheaper than a stream).
            if length <= Int64(ObjectStream.headBytes), let bytes = stream.wholeBody {
                stream.close()
                return HTTPResponse(status: status, headers: headers, body: bytes)
            }
            return HTTPResponse(status: status, headers: headers, stream: stream)
        } catch {
            reader.close()
            throw error
        }
    }

    static func list(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        func query(_ name: String) throws(HTTPError) -> String? { try Self.query(name, in: request) }
        let limit = try listLimit(request)
        let startAfter = try query("start_after").flatMap { $0.isEmpty ? nil : $0 }
        let (volume, prefix) = (context.parameter("name"), try query("prefix") ?? "")
        let objects =
            if let snapshot = try snapshotName(request) {
                try engine.listObjects(volume: volume, snapshot: snapshot, prefix: prefix, startAfter: startAfter, limit: limit + 1)
            } else {
                try engine.listObjects(volume: volume, prefix: prefix, startAfter: startAfter, limit: limit + 1)
            }
        let page = Array(objects.prefix(limit))
        let next = objects.count > limit ? page.last?.key : nil
        let list = ObjectListJSON(objects: page.map(ObjectJSON.init), nextStartAfter: next)
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: list.body)
    }

    /// `?limit=`: 1 to `maxListLimit` (the default).
    static func listLimit(_ request: HTTPRequest) throws(HTTPError) -> Int {
        guard let raw = try query("limit", in: request) else { return maxListLimit }
        guard let value = WireNumber.bounded(raw, limit: Int64(maxListLimit)).map(Int.init), value >= 1 else {
            throw .badRequest("query parameter 'limit' must be an integer from 1 to \(maxListLimit)")
        }
        return value
    }

    /// A decoded query parameter (percent-encoded UTF-8 without NUL); nil when absent.
    static func query(_ name: String, in request: HTTPRequest) throws(HTTPError) -> String? {
        guard let entry = request.query.last(where: { $0.name == name }) else { return nil }
        guard let decoded = PercentDecoding.decode(entry.value ?? "", plusIsSpace: true), !decoded.utf8.contains(0) else {
            throw .badRequest("query parameter '\(name)' is not valid percent-encoded UTF-8 without NUL")
        }
        return decoded
    }

    /// The volume's versions and delete markers by key, newest first within a key; a page ends
    /// with `next_key_marker` and `next_version_id_marker` to pass back for the next.
    static func listVersions(_ engine: Engine, _ request: HTTPRequest, _ context: RequestContext) throws -> HTTPResponse {
        let limit = try listLimit(request)
        let keyMarker = try query("key_marker", in: request).flatMap { $0.isEmpty ? nil : $0 }
        let marker = try versionID(request, "version_id_marker")
        guard marker == nil || keyMarker != nil else { throw HTTPError.badRequest("version_id_marker needs key_marker") }
        let versions = try engine.listVersions(
            volume: context.parameter("name"), prefix: try query("prefix", in: request) ?? "", after: keyMarker.map { ($0, marker) },
            limit: limit + 1)
        let page = Array(versions.prefix(limit))
        let more = versions.count > limit
        return .json(
            VersionListJSON(
                versions: page.map(VersionJSON.init), nextKeyMarker: more ? page.last?.key : nil,
                nextVersionIDMarker: more ? page.last?.versionID.description : nil))
    }
}
