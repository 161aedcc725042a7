import Catalog
import Foundation
// A buffered write (fs-io-buffered's write path): reserve space for every sector that is not
// already backed or reserved, *then* copy into pages and mark them dirty. A PUT stages a whole new
// version privately and installs it at the end (so a failed upload changes nothing); a PATCH
// stages its range and applies it atomically. Large PUTs spill to the direct writer.
import Logging
import Synchronization

package final class BufferedUpload: @unchecked Sendable {
    // @unchecked: an upload is driven by one thread at a time.
    package enum Mode: Sendable, Equatable {
        /// Replace the whole object (PUT).
        case replace
        /// Write at an offset of an existing object (PATCH).
        case patch(offset: Int64)
    }

    private let engine: Engine
    private let volume: VolumeRecord
    package let key: String
    private let mode: Mode
    private let contentType: String?
    private var attributes: ObjectAttributes
    private let declaredLength: Int64?
    /// A PATCH's staged content: page index → (page, byte range written within it).
    private var staged: [Int64: (page: Page, bytes: Range<Int>)] = [:]
    /// A PUT's staged content: page i holds bytes [i × 4 KiB, …) (bytes arrive in order).
    private var pages: [Page] = []
    private var received: Int64 = 0
    /// Reservation held by the staged pages.
    private var reservedPhysical: Int64 = 0
    private var reservedLogical: Int64 = 0
    private let replacing: Int64?
    /// Frames counted against the cache's capacity for this upload's staged pages (taken in
    /// batches), and how many of them are in use: what uploads stage outside the cache is bounded
    /// by its size like the cached pages are.
    private var stagingHeld = 0
    private var stagingUsed = 0
    /// Set when a PUT outgrew the cache and continues through the direct writer.
    private var spilled: ObjectWriter?
    private var finished = false
    /// Admitted by `CacheAdmission` (set once the upload exists), left when applied or aborted.
    private var admitted = false
    package private(set) var replacesExisting: Bool
    /// What the version replaced must be (checked where the replacement becomes visible).
    var conditions = WriteConditions.none {
        didSet { spilled?.conditions = conditions }
    }

    /// A PUT's whole-object checksums, when known only once the body is in (trailers).
    package var checksums: [String: String] {
        get { attributes.checksums }
        set {
            attributes.checksums = newValue
            spilled?.checksums = newValue
        }
    }
    package var volumeName: String { volume.name }

    init(
        engine: Engine, volume: VolumeRecord, key: String, mode: Mode, contentType: String?, attributes: ObjectAttributes, declaredLength: Int64?,
        existing: ObjectInfo?, credited: Bool = true
    ) throws(EngineError) {
        // Even a write that reserves nothing (over sectors already on disk) is written back
        // copy-on-write: somewhere must take it.
        try engine.requirePlacement(volume, length: declaredLength)
        self.engine = engine
        self.attributes = attributes
        self.volume = volume
        self.key = key
        self.mode = mode
        self.contentType = contentType
        self.declaredLength = declaredLength
        // A version whose bytes copies share frees nothing when replaced: no credit against the quota.
        replacing = credited ? existing?.size : nil
        replacesExisting = existing != nil
        switch mode {
        case .replace:
            guard let declaredLength, declaredLength > 0 else { break }
            if declaredLength > engine.spillThreshold {
                spilled = try ObjectWriter(
                    engine: engine, volume: volume, key: key, contentType: contentType, attributes: attributes, declaredLength: declaredLength,
                    replacing: replacing)
            } else {
                try reserve(logical: declaredLength, physical: SpaceAccounting.physicalBytes(logical: declaredLength, replicas: volume.replicas))
            }
        case .patch(let offset):
            // With a known length the whole range is reserved before a byte is accepted.
            if let declaredLength, declaredLength > 0 { try reservePatch(offset: offset, length: declaredLength) }
        }
        admitted = true
    }

    /// Leaves the cache's admission (once): the upload is applied or aborted.
    private func leaveAdmission() {
        guard admitted else { return }
        admitted = false
        engine.cacheAdmission.leave(volume.id!)
    }

    deinit {
        if !finished { abort() }
    }

    private var replicas: UInt8 { UInt8(volume.replicas) }
    private var thick: Bool { volume.isThick }

    private func reserve(logical: Int64, physical: Int64) throws(EngineError) {
        let engine = self.engine
        let volume = self.volume
        try engine.space.reserveBuffered(
            volumeID: volume.id!, thick: thick, logical: logical, physical: physical, replacing: mode == .replace ? (replacing ?? 0) : 0, upload: true
        )
        reservedLogical += logical
        reservedPhysical += physical
    }

    private func reservePatch(offset: Int64, length: Int64) throws(EngineError) {
        let need = try engine.patchReservation(volume: volume, key: key, offset: offset, length: length, alreadyLogical: reservedLogical)
        try reserve(logical: need.logical, physical: need.physical)
    }

    package func append(_ bytes: UnsafeRawBufferPointer) throws(EngineError) {
        if let declaredLength, received + Int64(bytes.count) > declaredLength { throw .uploadTooLong(expected: declaredLength) }
        if let spilled {
            try spilled.append(bytes)
            received += Int64(bytes.count)
            return
        }
        if case .replace = mode, declaredLength == nil, received + Int64(bytes.count) > engine.spillThreshold {
            try spill()
            try append(bytes)
            return
        }
        if case .replace = mode {
            try appendPages(bytes)
            return
        }
        if case .patch(let offset) = mode, declaredLength == nil {
            try reservePatch(offset: offset + received, length: Int64(bytes.count))
        }
        let pageSize = Int64(PageState.pageSize)
        var done = 0
        while done < bytes.count {
            let position = base + received + Int64(done)
            let index = position / pageSize
            let inPage = Int(position % pageSize)
            let n = min(bytes.count - done, PageState.pageSize - inPage)
            // A page this chunk covers whole needs no zeroing first.
            if staged[index] == nil, !holdStagingFrame(writeBack: true) { throw .cacheFull }
            var entry = staged[index] ?? (Page(zeroed: !(inPage == 0 && n == PageState.pageSize)), inPage..<inPage)
            UnsafeMutableRawBufferPointer(rebasing: entry.page.bytes[inPage..<inPage + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]))
            entry.bytes = entry.bytes.isEmpty ? inPage..<inPage + n : min(entry.bytes.lowerBound, inPage)..<max(entry.bytes.upperBound, inPage + n)
            staged[index] = entry
            done += n
        }
        received += Int64(bytes.count)
    }

    /// A PUT's bytes, in order: fills the last page, then whole new ones (no zeroing for pages
    /// written whole). Without Content-Length, space is reserved as the bytes arrive, before
    /// they are copied.
    private func appendPages(_ bytes: UnsafeRawBufferPointer) throws(EngineError) {
        if declaredLength == nil {
            let total = received + Int64(bytes.count)
            let needed = SpaceAccounting.physicalBytes(logical: total, replicas: volume.replicas) - reservedPhysical
            try reserve(logical: Int64(bytes.count), physical: max(0, needed))
        }
        let pageSize = PageState.pageSize
        var done = 0
        while done < bytes.count {
            let inPage = Int(received % Int64(pageSize))
            let n = min(bytes.count - done, pageSize - inPage)
            if inPage == 0 {
                guard holdStagingFrame(writeBack: false) else {
                    // The cache cannot hold more: the rest goes through the direct writer.
                    try spill()
                    try spilled!.append(UnsafeRawBufferPointer(rebasing: bytes[done...]))
                    received += Int64(bytes.count - done)
                    return
                }
                pages.append(Page(zeroed: n < pageSize))
            }
            UnsafeMutableRawBufferPointer(rebasing: pages[pages.count - 1].bytes[inPage..<inPage + n])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[done..<done + n]))
            done += n
            received += Int64(n)
        }
    }

    /// Counts one more staged frame against the cache's capacity, taking a batch when the last
    /// one is used up. False when the cache cannot make room (with `writeBack`: not even after
    /// writing back dirty objects).
    private func holdStagingFrame(writeBack: Bool) -> Bool {
        if stagingUsed == stagingHeld {
            // Batches of at most 1 MiB, no more than the declared length still needs.
            var batch = 256
            if let declaredLength {
                let first = base / Int64(PageState.pageSize)
                let last = (base + max(declaredLength, 1) - 1) / Int64(PageState.pageSize)
                batch = max(1, min(batch, Int(last - first + 1) - stagingHeld))
            }
            guard engine.holdStaging(batch, writeBack: writeBack) else { return false }
            stagingHeld += batch
        }
        stagingUsed += 1
        return true
    }

    /// Where the upload's first byte goes in the object.
    private var base: Int64 { if case .patch(let offset) = mode { offset } else { 0 } }

    /// Gives back the staging frames counted for this upload.
    private func releaseStaging() {
        engine.unstage(stagingHeld)
        (stagingHeld, stagingUsed) = (0, 0)
    }

    /// A PUT outgrew what the cache should hold (no Content-Length and over a quarter of the
    /// cache, or no room left in it): continue through the direct writer with what is staged.
    private func spill() throws(EngineError) {
        // The writer takes over the space reserved so far as it is: releasing it and reserving it
        // again would let another upload take it in between (a 507 after the upload was accepted).
        let held = SpaceAccounting.Reservation(
            volumeID: volume.id!, thick: thick, logical: reservedLogical, physical: reservedPhysical, replacing: replacing ?? 0, upload: true)
        let writer = try ObjectWriter(
            engine: engine, volume: volume, key: key, contentType: contentType, attributes: attributes, declaredLength: declaredLength,
            replacing: replacing,
            adopting: held)
        writer.conditions = conditions
        (reservedLogical, reservedPhysical) = (0, 0)
        for (index, page) in pages.enumerated() {
            let length = Int(min(Int64(PageState.pageSize), received - Int64(index * PageState.pageSize)))
            try writer.append(UnsafeRawBufferPointer(rebasing: page.bytes[0..<length]))
        }
        pages = []
        releaseStaging()
        spilled = writer
    }

    /// Makes the write visible (and durable first when `sync`), a PUT with `etag` (or a random
    /// one). Returns the new version's info.
    package func finish(sync: Bool, etag: String? = nil) throws(EngineError) -> ObjectInfo {
        precondition(!finished, "upload finished twice")
        do throws(EngineError) {
            if let declaredLength, received != declaredLength { throw .uploadIncomplete(expected: declaredLength, received: received) }
            if let spilled {
                finished = true
                defer { leaveAdmission() }
                return try spilled.commit(etag: etag)
            }
            let info: ObjectInfo
            switch mode {
            case .replace:
                info = try engine.installReplacement(
                    volume: volume, key: key, contentType: contentType, attributes: attributes, etag: etag, size: received, pages: pages,
                    staging: stagingHeld,
                    reservedLogical: reservedLogical, reservedPhysical: reservedPhysical, absentAtOpen: !replacesExisting,
                    conditions: conditions)
                (stagingHeld, stagingUsed) = (0, 0)  // Moved into the cache with the pages.
                if !thick { engine.space.uploadHandedOver(volumeID: volume.id!, physical: reservedPhysical) }
            case .patch(let offset):
                guard received > 0 else {
                    finished = true
                    leaveAdmission()
                    engine.space.releaseBuffered(
                        volumeID: volume.id!, thick: thick, logical: reservedLogical, physical: reservedPhysical, upload: true)
                    return try engine.objectInfo(volume: volume, key: key)
                }
                guard
                    let applied = try engine.applyPatch(
                        volume: volume, key: key, offset: offset, length: received, staged: staged,
                        reservedLogical: reservedLogical, reservedPhysical: reservedPhysical)
                else { return try rewriteShared(offset: offset) }
                info = applied
                if !thick { engine.space.uploadHandedOver(volumeID: volume.id!, physical: reservedPhysical) }
            }
            finished = true
            leaveAdmission()  // Applied: its pages are dirty in the cache, where a flush of the volume finds them.
            (staged, pages) = ([:], [])  // The pages belong to the cache now (which may evict them at any time).
            releaseStaging()  // A PATCH's staged copies are gone.
            engine.stats.mode(volume.name, "buffered") {
                $0.bytesWritten += received
                $0.writeOps += 1
            }
            if sync { try engine.flushObject(CacheKey(volumeID: volume.id!, key: key)) }
            return info
        } catch {
            abort()
            throw error
        }
    }

    /// The PATCH's version shares its extents with copies, so the staged range is not spliced
    /// over them: the object is written whole with it (`PatchRewrite`, durable before the
    /// answer), and what the upload reserved for the cache is given back first.
    private func rewriteShared(offset: Int64) throws(EngineError) -> ObjectInfo {
        let (staged, received) = (self.staged, self.received)
        abort()
        let rewrite = try PatchRewrite(engine: engine, volume: volume.name, key: key, offset: offset, length: received)
        do throws(EngineError) {
            // The body is one range: each page holds its piece of it, in order.
            for index in staged.keys.sorted() {
                let (page, bytes) = staged[index]!
                try rewrite.writer.append(UnsafeRawBufferPointer(rebasing: page.bytes[bytes]))
            }
        } catch {
            rewrite.abort()
            throw error
        }
        return try rewrite.commit()
    }

    /// Drops what was staged and gives back its reservation. Idempotent.
    package func abort() {
        guard !finished else { return }
        finished = true
        leaveAdmission()
        spilled?.abort()
        (staged, pages) = ([:], [])
        releaseStaging()
        engine.space.releaseBuffered(volumeID: volume.id!, thick: thick, logical: reservedLogical, physical: reservedPhysical, upload: true)
    }
}
