// One upload: bytes arrive in order, are gathered into large aligned buffers, written as extents
// with all replicas, made durable, then committed as a new version in one catalog transaction
// (copy-on-write). Until `commit` returns nothing is visible; `abort` leaves nothing behind.
// Up to `maxInFlight` extents are written while the next buffer fills from the network. With
// `cacheThrough`, written extents are also copied into page frames that become the new version's
// cached pages at commit (WriteThrough.swift).
import Catalog
import Dispatch
import Foundation

package final class ObjectWriter: @unchecked Sendable {
    // @unchecked: an upload is driven by one thread at a time.
    package static let extentBytes = 4 << 20

    private let engine: Engine
    private let volume: VolumeRecord
    package let key: String
    /// Whether this upload replaces an existing version.
    package let replacesExisting: Bool
    private let contentType: String?
    private let declaredLength: Int64?
    private var buffer: AlignedBuffer
    private var spares: [AlignedBuffer] = []
    /// Extent writes in flight on worker threads, oldest first.
    private var inFlight: [PendingWrite] = []
    /// Two extents in flight keep 8 MiB (8 ops of 1 MiB per replica) queued at the devices.
    static let maxInFlight = 2
    private var filled = 0
    private var flushed: Int64 = 0
    private var extents: [NewExtent] = []
    private var allocated: [PhysicalRange] = []
    private var reservation: SpaceAccounting.Reservation
    private var finished = false
    /// Write-through: pages staged so far (runs by first page index), until the cache is full.
    private var cacheThrough: Bool
    private var staged: [Int64: [Page]] = [:]
    private var stagedCount = 0

    init(
        engine: Engine, volume: VolumeRecord, key: String, contentType: String?, declaredLength: Int64?, replacing: Int64?,
        cacheThrough: Bool = false
    ) throws(EngineError) {
        self.engine = engine
        self.cacheThrough = cacheThrough
        replacesExisting = replacing != nil
        self.volume = volume
        self.key = key
        self.contentType = contentType
        self.declaredLength = declaredLength
        buffer = AlignedBuffer(count: Self.extentBytes, zeroed: false)
        reservation = SpaceAccounting.Reservation(
            volumeID: volume.id!, thick: volume.provisioning == Provisioning.thick.rawValue, replacing: replacing ?? 0)
        if let declaredLength, declaredLength > 0 { try reserve(declaredLength) }
    }

    deinit {
        if !finished { abort() }
    }

    /// Bytes received so far.
    package var received: Int64 { flushed + Int64(filled) }

    /// The outcome of one extent write, handed back by the worker that performed it.
    private final class PendingWrite: @unchecked Sendable {
        // @unchecked: written by the worker before `done` is signalled, read after waiting on it.
        let done = DispatchSemaphore(value: 0)
        let buffer: AlignedBuffer
        let logicalOffset: Int64
        let stage: Bool
        var extents: [NewExtent] = []
        var allocated: [PhysicalRange] = []
        /// Write-through copies of the extent's pages (empty when the cache had no room).
        var pages: [Page] = []
        var error: EngineError?
        init(buffer: AlignedBuffer, logicalOffset: Int64, stage: Bool) {
            self.buffer = buffer
            self.logicalOffset = logicalOffset
            self.stage = stage
        }
    }

    /// Waits for the oldest write in flight and takes over its extents (and its buffer, for
    /// reuse); with `all`, for every one of them. Extents are kept in logical order.
    private func settle(all: Bool = false) throws(EngineError) {
        var failure: EngineError?
        while !inFlight.isEmpty, all || inFlight.count >= Self.maxInFlight {
            let pending = inFlight.removeFirst()
            pending.done.wait()
            allocated += pending.allocated
            spares.append(pending.buffer)
            if let error = pending.error, failure == nil { failure = error }
            extents += pending.extents
            if !pending.pages.isEmpty {
                staged[pending.logicalOffset / Int64(PageState.pageSize)] = pending.pages
                stagedCount += pending.pages.count
            } else if pending.stage {
                cacheThrough = false  // The cache is full: stop copying.
            }
        }
        if let failure { throw failure }
    }

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
        try engine.space.reserve(&reservation, logical: logical, replicas: volume.replicas, capacity: volume.capacityBytes) { () throws(EngineError) in
            try engine.spaceFigures(volumeID: volume.id!)
        }
    }

    /// Hands the full buffer to a worker to write, and continues filling the other one.
    private func flush() throws(EngineError) {
        guard filled > 0 else { return }
        if declaredLength == nil { try reserve(Int64(filled)) }
        try settle()
        let pending = PendingWrite(buffer: buffer, logicalOffset: flushed, stage: cacheThrough)
        let (engine, length, offset, replicas, name) = (engine, filled, flushed, Int(volume.replicas), volume.name)
        // A thread of its own (not a width-limited dispatch queue): it blocks on the disk.
        Thread.detachNewThread {
            do throws(EngineError) {
                pending.extents = try engine.writeExtents(
                    pending.buffer, length: length, logicalOffset: offset, replicas: replicas, volume: name, allocated: &pending.allocated)
                if pending.stage { pending.pages = engine.stageWritten(pending.buffer, length: length) }
            } catch {
                pending.error = error
            }
            pending.done.signal()
        }
        inFlight.append(pending)
        buffer = spares.popLast() ?? AlignedBuffer(count: Self.extentBytes, zeroed: false)
        flushed += Int64(filled)
        filled = 0
    }

    /// Writes what is buffered, makes every replica durable, and commits the version.
    package func commit() throws(EngineError) -> ObjectInfo {
        precondition(!finished, "upload committed twice")
        do throws(EngineError) {
            try flush()
            try settle(all: true)
            if let declaredLength, flushed != declaredLength {
                throw .uploadIncomplete(expected: declaredLength, received: flushed)
            }
            try engine.makeDurable(Set(allocated.map(\.deviceID)))
            let version = ObjectVersion(
                volumeID: volume.id!, key: key, size: flushed, etag: Self.newETag(), contentType: contentType)
            let engine = self.engine
            let extents = self.extents
            let (object, replaced) = try engine.space.commit(reservation) { () throws(EngineError) in
                try engine.catalogCall(notFound: .volumeNotFound(name: volume.name)) {
                    try engine.catalog.commitObject(version, extents: extents, now: Date().truncatedToMilliseconds) { _, _ in }
                }
            }
            finished = true
            engine.stats.mode(volume.name, "direct") {
                $0.bytesWritten += flushed
                $0.writeOps += 1
            }
            if stagedCount > 0 {
                engine.installWrittenThrough(volume: volume, stored: object, pages: staged, count: stagedCount)
                (staged, stagedCount) = ([:], 0)
            } else {
                try? engine.invalidateCached(volumeID: volume.id!, key: key, writeBackFirst: false)
            }
            engine.deferredFree.retire(replaced.map { PhysicalRange(deviceID: $0.deviceId, offset: $0.physicalOffset, length: $0.length) })
            return ObjectInfo(object.record)
        } catch {
            abort()
            throw error
        }
    }

    /// Frees everything written and releases the reservation. Safe to call more than once.
    package func abort() {
        guard !finished else { return }
        finished = true
        try? settle(all: true)  // Workers must be done with their buffers and report what they allocated.
        engine.allocator.free(allocated)
        allocated = []
        engine.space.release(reservation)
        engine.unstage(stagedCount)
        (staged, stagedCount) = ([:], 0)
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
        self.init(
            key: record.key, size: record.size, etag: record.etag, contentType: record.contentType,
            createdAt: record.createdAt, modifiedAt: record.modifiedAt)
    }
}

extension Date {
    /// Catalog timestamps keep milliseconds; what a client sees must survive a restart exactly.
    var truncatedToMilliseconds: Date { Date(timeIntervalSince1970: (timeIntervalSince1970 * 1000).rounded(.down) / 1000) }
}
