// One upload: bytes arrive in order, are gathered into large aligned buffers, written as extents
// with all replicas, made durable, then committed as a new version in one catalog transaction
// (copy-on-write). Until `commit` returns nothing is visible; `abort` leaves nothing behind.
// Up to `maxInFlight` extents are written while the next buffer fills from the network. With
// `cacheThrough`, written extents are also copied into page frames that become the new version's
// cached pages at commit (WriteThrough.swift).
import Catalog
import Foundation

package final class ObjectWriter: @unchecked Sendable {
    // @unchecked: an upload is driven by one thread at a time.
    package static let extentBytes = 4 << 20

    /// What the written extents become: a new version of the object, or a part of a multipart
    /// upload (its extents of its own until the upload is completed).
    enum Destination {
        case object
        case part(uploadID: String, number: Int64)
    }

    private let engine: Engine
    private let volume: VolumeRecord
    package let key: String
    /// Whether this upload replaces an existing version.
    package let replacesExisting: Bool
    private let contentType: String?
    private var attributes: ObjectAttributes
    private let destination: Destination
    private let declaredLength: Int64?
    private var buffer: AlignedBuffer
    /// Extent writes in flight while the next buffer fills from the network. Two keep 8 MiB
    /// (8 ops of 1 MiB per replica) queued at the devices.
    private let writes: ExtentWriteQueue
    static let maxInFlight = 2
    private var filled = 0
    private var flushed: Int64 = 0
    private var reservation: SpaceAccounting.Reservation
    private var finished = false
    /// Write-through: written extents are also staged as pages, until the cache is full.
    private var cacheThrough: Bool
    /// What the version replaced must be: checked in the commit's transaction, with the key held.
    var conditions = WriteConditions.none

    /// `keepsReplaced`: the version replaced stays (a volume that keeps versions), so its size is
    /// not credited against the quota. `adopting`: space already reserved for this upload (a buffered upload continuing here),
    /// taken over as it is: nothing is released and reserved again, so no other upload can take
    /// the space in between.
    init(
        engine: Engine, volume: VolumeRecord, key: String, contentType: String?, attributes: ObjectAttributes = .none, declaredLength: Int64?,
        replacing: Int64?, keepsReplaced: Bool = false, cacheThrough: Bool = false, adopting: SpaceAccounting.Reservation? = nil,
        destination: Destination = .object
    ) throws(EngineError) {
        try engine.requirePlacement(volume, length: declaredLength)
        self.engine = engine
        self.destination = destination
        self.attributes = attributes
        self.cacheThrough = cacheThrough
        replacesExisting = replacing != nil
        self.volume = volume
        self.key = key
        self.contentType = contentType
        self.declaredLength = declaredLength
        writes = ExtentWriteQueue(
            engine: engine, replicas: Int(volume.replicas), volume: volume.name, bufferBytes: Self.extentBytes, depth: Self.maxInFlight)
        buffer = writes.buffer()
        reservation =
            adopting
            ?? SpaceAccounting.Reservation(
                volumeID: volume.id!, thick: volume.isThick, replacing: keepsReplaced ? 0 : replacing ?? 0, upload: true)
        if let declaredLength, declaredLength > reservation.logical { try reserve(declaredLength - reservation.logical) }
    }

    deinit {
        if !finished { abort() }
    }

    /// The version's (or part's) whole-object checksums, when known only once the body is in (trailers).
    package var checksums: [String: String] {
        get { attributes.checksums }
        set { attributes.checksums = newValue }
    }

    /// Bytes received so far.
    package var received: Int64 { flushed + Int64(filled) }

    package func append(_ bytes: UnsafeRawBufferPointer) throws(EngineError) {
        if let declaredLength, received + Int64(bytes.count) > declaredLength { throw .uploadTooLong(expected: declaredLength) }
        var offset = 0
        while offset < bytes.count {
            let n = min(bytes.count - offset, buffer.count - filled)
            UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[filled..<filled + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
            filled += n
            offset += n
            if filled == buffer.count { try flush() }
        }
    }

    private func reserve(_ logical: Int64) throws(EngineError) {
        let engine = self.engine
        let volume = self.volume
        try engine.space.reserve(&reservation, logical: logical, replicas: volume.replicas)
    }

    /// Hands the full buffer to a worker to write, and continues filling another one; the `last`
    /// one (at commit) is written on this thread.
    private func flush(last: Bool = false) throws(EngineError) {
        guard filled > 0 else { return }
        // Without Content-Length, space is reserved as the bytes come (beyond what is held already).
        let beyond = flushed + Int64(filled) - reservation.logical
        if beyond > 0 { try reserve(beyond) }
        if writes.stagingRefused { cacheThrough = false }  // The cache is full: stop copying.
        try writes.submit(buffer, length: filled, logicalOffset: flushed, stage: cacheThrough, last: last)
        buffer = writes.buffer()
        flushed += Int64(filled)
        filled = 0
    }

    /// Writes what is buffered, makes every replica durable, and commits the version (with
    /// `etag`, or a random one).
    package func commit(etag: String? = nil) throws(EngineError) -> ObjectInfo {
        precondition(!finished, "upload committed twice")
        do throws(EngineError) {
            let freedEarly = try plantedEarlyFree()
            try flush(last: true)
            try writes.finish()
            if let declaredLength, flushed != declaredLength {
                throw .uploadIncomplete(expected: declaredLength, received: flushed)
            }
            if case .part(let uploadID, let number) = destination {
                return try commitPart(uploadID: uploadID, number: number, etag: etag ?? Self.newETag(), checksums: attributes.checksums)
            }
            let version = ObjectVersion(
                volumeID: volume.id!, key: key, size: flushed, etag: etag ?? Self.newETag(), contentType: contentType,
                attributes: attributes, versioned: volume.versioning == .enabled)
            let (engine, volume, reservation, conditions, key) = (self.engine, self.volume, self.reservation, self.conditions, self.key)
            let (extents, writes) = (self.writes.extents, self.writes)
            let devices = Set(writes.allocated.map(\.deviceID))
            // The key is held while the catalog commits: the cached entry (written back first)
            // is replaced by the written-through pages, or by nothing.
            let (object, replaced, replacedInline) = try engine.commitBypassingCache(volume, key: key, flushFirst: true) { _ throws(EngineError) in
                try engine.space.commit(reservation) { () throws(EngineError) in
                    // The extents are made durable with the commit's group, before its transaction.
                    let commit = try engine.catalogCall(notFound: .volumeNotFound(name: volume.name)) {
                        try engine.groupCommit.commit(engine, devices: devices) { transaction in
                            try transaction.commitObject(version, extents: extents, now: Date().truncatedToMilliseconds) { replacing in
                                try conditions.check(current: replacing?.etag, volume: volume.name, key: key)
                            }
                        }
                    }
                    return ((commit.object, commit.replaced, commit.replacedInline), commit.delta)
                }
            } install: { committed in
                let staged = writes.takeStaged()  // Left for `abort` to give back if the commit fails.
                return staged.count > 0 ? .writtenThrough(stored: committed.0, pages: staged.pages, count: staged.count) : .none
            }
            finished = true
            engine.stats.mode(volume.name, "direct") {
                $0.bytesWritten += flushed
                $0.writeOps += 1
            }
            engine.deferredFree.retire(freedEarly ? [] : replaced.map(PhysicalRange.init), inline: replacedInline)
            return ObjectInfo(object.record)
        } catch {
            abort()
            throw error
        }
    }

    /// The planted `reuseBeforeFreeIsDurable`: an overwrite gives the replaced version's space
    /// back before its last extent is even allocated, so the new data can land on the old.
    private func plantedEarlyFree() throws(EngineError) -> Bool {
        guard engine.planted.contains(.reuseBeforeFreeIsDurable), replacesExisting, case .object = destination else { return false }
        let (engine, volume, key) = (self.engine, self.volume, self.key)
        guard let current = try engine.catalogCall({ try engine.catalog.object(volumeID: volume.id!, key: key) }) else { return false }
        engine.allocator.free(
            current.extents.flatMap(\.replicas).map(PhysicalRange.init))
        return true
    }

    /// A part: its extents are recorded under the upload, made durable with the commit's group.
    private func commitPart(uploadID: String, number: Int64, etag: String, checksums: [String: String]) throws(EngineError) -> ObjectInfo {
        let (engine, volume, reservation, size) = (self.engine, self.volume, self.reservation, flushed)
        let extents = writes.extents
        let devices = Set(writes.allocated.map(\.deviceID))
        let now = Date().truncatedToMilliseconds
        let replaced = try engine.space.commit(reservation) { () throws(EngineError) in
            let commit = try engine.catalogCall(notFound: .uploadNotFound(id: uploadID)) {
                try engine.groupCommit.commit(engine, devices: devices) { transaction in
                    try transaction.commitPart(
                        uploadID: uploadID, number: number, size: size, etag: etag, checksums: checksums, extents: extents, now: now
                    ) { upload in
                        guard let upload, upload.volumeId == volume.id!, upload.key.sameBytes(as: key) else {
                            throw EngineError.uploadNotFound(id: uploadID)
                        }
                    }
                }
            }
            return (commit.replaced, commit.delta)
        }
        finished = true
        engine.deferredFree.retire(replaced.map(PhysicalRange.init), inline: [])
        return ObjectInfo(key: key, size: size, etag: etag, contentType: nil, createdAt: now, modifiedAt: now, checksums: checksums)
    }

    /// Frees everything written and releases the reservation. Safe to call more than once.
    package func abort() {
        guard !finished else { return }
        finished = true
        engine.allocator.free(writes.drain())  // Workers must be done with their buffers and report what they allocated.
        engine.space.release(reservation)
        engine.unstage(writes.takeStaged().count)
    }

    static func newETag() -> String {
        var generator = SystemRandomNumberGenerator()
        return String(generator.next() as UInt64, radix: 16).leftPadded(to: 16) + String(generator.next() as UInt64, radix: 16).leftPadded(to: 16)
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension ObjectInfo {
    init(_ record: ObjectRecord) {
        let attributes = record.attributes
        self.init(
            key: record.key, size: record.size, etag: record.etag, contentType: record.contentType,
            createdAt: record.createdAt, modifiedAt: record.modifiedAt, metadata: attributes.metadata,
            checksums: attributes.checksums, parts: attributes.parts, versionID: record.versionID, isLatest: record.latest,
            deleteMarker: record.deleteMarker)
    }

    var attributes: ObjectAttributes { ObjectAttributes(metadata: metadata, checksums: checksums, parts: parts) }
}

extension Date {
    /// Catalog timestamps keep milliseconds; what a client sees must survive a restart exactly.
    var truncatedToMilliseconds: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000) }
}
