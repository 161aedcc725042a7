// The one front door for object writes and reads. A front end (the native API, S3) maps its
// request to options — io mode, durability, length, metadata, conditions — and Engine picks the
// path: buffered through the page cache, the direct writer (written through to the cache when
// the client asked for buffered IO), or a buffered write that spills to the direct writer
// (ObjectIOPolicy.swift has the thresholds); and it evaluates the conditions (ReadConditions).
// What lives elsewhere: the paths themselves (Buffered/, ObjectWriter, ObjectReader).
import Catalog

/// Through the page cache (the default), or past it.
package enum ObjectIO: String, Sendable {
    case buffered, direct
}

/// How to open an object write.
package struct WriteOptions: Sendable {
    package var io: ObjectIO
    /// Durable before the answer (sync), or accepted into the cache and written back later.
    package var sync: Bool
    /// The body's length, when the client said it (nil: streamed to its end).
    package var length: Int64?
    package var contentType: String?
    package var metadata: [String: String]
    /// If-Match / If-None-Match: what the version replaced must be.
    package var conditions: WriteConditions

    package init(
        io: ObjectIO = .buffered, sync: Bool = true, length: Int64? = nil, contentType: String? = nil, metadata: [String: String] = [:],
        conditions: WriteConditions = .none
    ) {
        self.conditions = conditions
        self.io = io
        self.sync = sync
        self.length = length
        self.contentType = contentType
        self.metadata = metadata
    }
}

/// An object write opened by the front door: append the body, then commit (or abort).
package final class ObjectUpload: @unchecked Sendable {
    // @unchecked: one thread drives an upload at a time (the request's worker).
    private enum Path {
        case direct(ObjectWriter)
        /// `dropAfter`: a direct PATCH, made durable then evicted from the cache.
        case buffered(BufferedUpload, sync: Bool, dropAfter: Bool)
        /// A PATCH of a volume that keeps versions: a new version written whole.
        case rewrite(PatchRewrite)
    }

    private let path: Path
    private let engine: Engine

    private init(_ path: Path, engine: Engine) {
        self.path = path
        self.engine = engine
    }

    fileprivate static func direct(_ writer: ObjectWriter, engine: Engine) -> ObjectUpload { ObjectUpload(.direct(writer), engine: engine) }

    fileprivate static func rewrite(_ patch: PatchRewrite, engine: Engine) -> ObjectUpload { ObjectUpload(.rewrite(patch), engine: engine) }

    fileprivate static func buffered(_ upload: BufferedUpload, sync: Bool, dropAfter: Bool, engine: Engine) -> ObjectUpload {
        ObjectUpload(.buffered(upload, sync: sync, dropAfter: dropAfter), engine: engine)
    }

    package func append(_ bytes: UnsafeRawBufferPointer) throws(EngineError) {
        switch path {
        case .direct(let writer): try writer.append(bytes)
        case .buffered(let upload, _, _): try upload.append(bytes)
        case .rewrite(let patch): try patch.writer.append(bytes)
        }
    }

    /// The whole-object checksums to record, when known only once the body is in (trailers).
    package var checksums: [String: String] {
        get {
            switch path {
            case .direct(let writer): writer.checksums
            case .buffered(let upload, _, _): upload.checksums
            case .rewrite(let patch): patch.writer.checksums
            }
        }
        set {
            switch path {
            case .direct(let writer): writer.checksums = newValue
            case .buffered(let upload, _, _): upload.checksums = newValue
            case .rewrite: break  // A PATCH's version has no whole-object checksums.
            }
        }
    }

    /// Makes the written version visible (durable first when sync). `etag`: a PUT's (the MD5 of
    /// its bytes); nil for a new random one (a PATCH).
    package func commit(etag: String?) throws(EngineError) -> ObjectInfo {
        switch path {
        case .direct(let writer): return try writer.commit(etag: etag)
        case .buffered(let upload, let sync, let dropAfter):
            let info = try upload.finish(sync: sync, etag: etag)
            if dropAfter { try engine.dropCached(volume: upload.volumeName, key: upload.key) }
            return info
        case .rewrite(let patch): return try patch.commit()
        }
    }

    package func abort() {
        switch path {
        case .direct(let writer): writer.abort()
        case .buffered(let upload, _, _): upload.abort()
        case .rewrite(let patch): patch.abort()
        }
    }

    /// The write replaces a version that existed when it was opened.
    package var replacesExisting: Bool {
        switch path {
        case .direct(let writer): writer.replacesExisting
        case .buffered(let upload, _, _): upload.replacesExisting
        case .rewrite: true
        }
    }
}

extension Engine {
    /// Opens a whole-object write (PUT) of `key`: through the cache when the client asked for
    /// buffered IO and it is async or small enough (`syncCacheLimit`); otherwise the direct writer,
    /// writing through to the cache for buffered IO.
    /// In a volume that keeps rows (versions, snapshots) every write is the direct writer's,
    /// durable before it is answered: each one is a row of its own (`CacheAdmission`).
    package func openWrite(volume: String, key: String, _ options: WriteOptions) throws(EngineError) -> ObjectUpload {
        let throughCache = options.io == .buffered && (!options.sync || (options.length ?? Int64.max) <= Self.syncCacheLimit)
        if throughCache,
            let upload = try beginBufferedUpload(
                volume: volume, key: key, contentType: options.contentType, length: options.length, mode: .replace, metadata: options.metadata,
                conditions: options.conditions)
        {
            return .buffered(upload, sync: options.sync, dropAfter: false, engine: self)
        }
        let writer = try beginUpload(
            volume: volume, key: key, contentType: options.contentType, length: options.length, cacheThrough: options.io == .buffered,
            metadata: options.metadata, conditions: options.conditions)
        return .direct(writer, engine: self)
    }

    /// Opens a write of `length` bytes at `offset` into an existing object (PATCH), staged whole
    /// and applied atomically. Direct IO needs the range aligned to the devices' block size; it
    /// is made durable, then evicted from the cache.
    /// In a volume that keeps rows the PATCH makes a new row, written whole (`PatchRewrite`),
    /// and the one it patched stays as it was.
    package func openPatch(volume: String, key: String, offset: Int64, length: Int64, io: ObjectIO, sync: Bool) throws(EngineError) -> ObjectUpload {
        if try volumeRecord(named: volume).keepsRows { return try rewrite() }
        if io == .direct {
            let alignment = directAlignment
            guard offset % alignment == 0, length % alignment == 0 else {
                throw .invalidArgument(
                    field: "Content-Range", reason: "a direct PATCH's offset and length must be multiples of the device block size (\(alignment))")
            }
        }
        // Not admitted into the cache: the volume started keeping rows since the check above.
        guard let upload = try beginBufferedUpload(volume: volume, key: key, contentType: nil, length: length, mode: .patch(offset: offset))
        else { return try rewrite() }
        return .buffered(upload, sync: sync || io == .direct, dropAfter: io == .direct, engine: self)

        func rewrite() throws(EngineError) -> ObjectUpload {
            .rewrite(try PatchRewrite(engine: self, volume: volume, key: key, offset: offset, length: length), engine: self)
        }
    }
}
