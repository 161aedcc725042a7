// The page cache's side of writeback (Buffered/Writeback.swift drives the IO and the commit):
// taking a snapshot of an object's dirty pages and metadata (its entry becomes `flushing`),
// marking them written or failed afterwards, and finding what is dirty. Every change of a cached
// object's or page's fields during writeback happens here, under the cache lock.
import Catalog

extension PageCache {
    struct WritebackSnapshot {
        var object: CachedObject
        var pages: [(index: Int64, page: Page, mask: [Bool], generation: UInt64)]
        /// Contiguous stretches of `pages` (index ranges into it) and their byte lengths.
        var runs: [(pages: Range<Int>, start: Int64, length: Int)]
        var size: Int64
        /// The committed version's size (its bytes past the dirty pages).
        var committedSize: Int64
        var version: ObjectVersion
        var extents: [Extent]
        var replacesCommitted: Bool
        /// The catalog row the snapshot's committed extents belong to.
        var committedID: Int64?
        var reservedPhysical: Int64
        var reservedLogical: Int64
        var metadataGeneration: UInt64

        /// Copies run `r`'s pages into `buffer`, without the cache lock: while the entry is
        /// `flushing` nothing writes to its pages (writers wait for `.change`, eviction and drops
        /// skip it), and the snapshot holds the frames.
        func copy(run r: Int, into buffer: UnsafeMutableRawBufferPointer) {
            let pageSize = PageState.pageSize
            for (k, entry) in pages[runs[r].pages].enumerated() {
                UnsafeMutableRawBufferPointer(rebasing: buffer[k * pageSize..<(k + 1) * pageSize])
                    .copyMemory(from: UnsafeRawBufferPointer(entry.page.bytes))
            }
        }
    }

    /// Starts the writeback of `key`'s dirty pages and metadata, waiting for one already running:
    /// the snapshot, or nil when it is clean. A background writeback's error kept on the object
    /// is thrown (once) when nothing is left to write.
    func beginWriteback(_ key: CacheKey) throws(EngineError) -> WritebackSnapshot? {
        try withAdmitted(key, for: .change) { state, object throws(EngineError) -> WritebackSnapshot? in
            try Self.startWriteback(&state, object)
        }
    }

    /// What `tryBeginWriteback` found.
    enum WritebackStart {
        case started(WritebackSnapshot)
        /// Nothing to write.
        case clean
        /// The entry is busy (under writeback, being committed or loaded); not waited for.
        case busy
    }

    /// Starts the writeback of `key` as `beginWriteback` does, but does not wait for a busy
    /// entry: a caller that already holds other entries under writeback must never wait for one
    /// (another writer of several keys may hold this one and wait for one of them).
    func tryBeginWriteback(_ key: CacheKey) throws(EngineError) -> WritebackStart {
        try state.withLock { state throws(EngineError) -> WritebackStart in
            let object = state.objects[key]
            if let object, object.lifecycle.admits(.change) == .wait { return .busy }
            return try Self.startWriteback(&state, object).map(WritebackStart.started) ?? .clean
        }
    }

    /// Under the lock: marks `object` flushing and its dirty pages under writeback, and returns
    /// the snapshot (nil: clean). Throws a background writeback's error kept on a clean object.
    private static func startWriteback(_ state: inout State, _ object: CachedObject?) throws(EngineError) -> WritebackSnapshot? {
        guard let object else { return nil }
        if let error = object.lastError {
            object.lastError = nil
            if !object.isDirty { throw error }
        }
        guard object.isDirty else { return nil }
        object.lifecycle.beginWriteback()
        var pages: [(Int64, Page, [Bool], UInt64)] = []
        var reserved = 0
        for (index, page) in object.pages.sorted(by: { $0.key < $1.key }) where page.state.isDirty {
            Self.countPage(&state, object, page, -1)
            defer { Self.countPage(&state, object, page, 1) }
            let mask = page.state.beginWriteback()
            reserved += zip(mask, page.state.sectors).reduce(0) { $0 + ($1.0 ? Int($1.1.replicasReserved) : 0) }
            pages.append((index, page, mask, page.generation))
        }
        // Contiguous dirty pages become one run (one or more large extents), up to 4 MiB.
        var runs: [(Range<Int>, Int64, Int)] = []
        var i = 0
        let pageSize = PageState.pageSize
        while i < pages.count {
            var j = i
            while j + 1 < pages.count, pages[j + 1].0 == pages[j].0 + 1, j + 1 - i < 1024 { j += 1 }
            let start = pages[i].0 * Int64(pageSize)
            let length = Int(min(Int64((j - i + 1) * pageSize), object.size - start))
            if length > 0 { runs.append((i..<j + 1, start, length)) }
            i = j + 1
        }
        return WritebackSnapshot(
            object: object, pages: pages.map { (index: $0.0, page: $0.1, mask: $0.2, generation: $0.3) },
            runs: runs.map { (pages: $0.0, start: $0.1, length: $0.2) }, size: object.size, committedSize: object.committedSize,
            version: ObjectVersion(
                volumeID: object.volumeID, key: object.key, size: object.size, etag: object.etag, contentType: object.contentType,
                attributes: object.attributes),
            extents: object.extents, replacesCommitted: object.replacesCommitted, committedID: object.committedID,
            reservedPhysical: Int64(reserved * PageState.sectorSize), reservedLogical: object.reservedLogical,
            metadataGeneration: object.metadataGeneration)
    }

    /// The snapshot's data is committed as `merged` (catalog row `committedID`) with `copies`
    /// device copies (0: inline, in the catalog row): its sectors are allocated now and their
    /// reservations released; the entry is idle again. `reloadClean`: the committed version was
    /// rewritten whole (into or out of the catalog), so the clean pages' sectors are backed by
    /// other copies than before and are loaded again from `merged`.
    func finishWriteback(_ snapshot: WritebackSnapshot, merged: [Extent], committedID: Int64?, copies: UInt8, reloadClean: Bool) {
        let object = snapshot.object
        state.withLockWaking { state in
            var released = 0
            for entry in snapshot.pages {
                let stillDirty = entry.page.generation != entry.generation
                let cached = object.pages[entry.index] === entry.page
                if cached { Self.countPage(&state, object, entry.page, -1) }
                released += entry.page.state.markWritten(entry.mask, replicas: copies, stillDirty: stillDirty)
                if cached { Self.countPage(&state, object, entry.page, 1) }
                if !stillDirty, !entry.page.state.isDirty { Self.pageCleaned(&state, object) }
            }
            precondition(
                Int64(released * PageState.sectorSize) == snapshot.reservedPhysical,
                "writeback released \(released) sectors but snapshotted \(snapshot.reservedPhysical) bytes")
            object.extents = merged
            object.replacesCommitted = false
            object.committedSize = snapshot.size
            if reloadClean {
                let written = Set(snapshot.pages.map(\.index))
                for (index, page) in object.pages where !written.contains(index) && page.state.known {
                    Self.countPage(&state, object, page, -1)
                    page.state.load(allocated: object.allocatedReplicas(page: index))
                    Self.countPage(&state, object, page, 1)
                }
            }
            object.committedID = committedID
            object.committedShared = false  // a row of its own, which no copy has borrowed yet
            object.committedExists = true
            object.createdAt = object.createdAt ?? object.modifiedAt
            object.reservedLogical -= snapshot.reservedLogical
            object.commitGeneration += 1
            if object.metadataGeneration == snapshot.metadataGeneration { object.metadataDirty = false }
            Self.settleRowReservation(&state, object)  // it has a row now
            if !object.isDirty { object.dirtySince = nil }
            object.lifecycle.endWriteback()
            state.counters[object.volumeID, default: VolumeCacheStats()].writebackBytes += Int64(snapshot.runs.reduce(0) { $0 + $1.length })
        }
    }

    /// The snapshot's writeback failed: its pages stay dirty (reservations kept) for a retry, and
    /// the error waits on the object for its next flush.
    func failWriteback(_ snapshot: WritebackSnapshot, error: EngineError) {
        let object = snapshot.object
        state.withLockWaking { state in
            for entry in snapshot.pages {
                let cached = object.pages[entry.index] === entry.page
                if cached { Self.countPage(&state, object, entry.page, -1) }
                entry.page.state.writebackFailed()
                if cached { Self.countPage(&state, object, entry.page, 1) }
            }
            object.lifecycle.endWriteback()
            object.lastError = error
            state.counters[object.volumeID, default: VolumeCacheStats()].writebackErrors += 1
        }
    }

    /// Keys with something a flush must do: dirty, holding a writeback error, or busy (a
    /// bypassing commit or a writeback in progress) — of one volume, or of all with nil.
    func keysToFlush(volumeID: Int64?) -> [CacheKey] {
        state.withLock { state in
            Self.dirtyObjects(&state).filter { entry in
                (volumeID == nil || entry.key.volumeID == volumeID)
                    && (entry.object.isDirty || entry.object.lastError != nil || !entry.object.lifecycle.isIdle)
            }.map(\.key)
        }
    }

    /// Keys whose objects are dirty (shutdown writes them all back).
    func dirtyKeys() -> [CacheKey] {
        state.withLock { state in Self.dirtyObjects(&state).filter { $0.object.isDirty }.map(\.key) }
    }

    /// Idle dirty objects, oldest first, with when each became dirty; and the pool's dirty pages.
    func writebackCandidates(now: ContinuousClock.Instant) -> (keys: [(CacheKey, ContinuousClock.Instant)], dirtyPages: Int) {
        state.withLock { state in
            (
                Self.dirtyObjects(&state).filter { $0.object.isDirty && $0.object.lifecycle.isIdle }
                    .map { ($0.key, $0.object.dirtySince ?? now) }.sorted { $0.1 < $1.1 }, state.dirtyPages
            )
        }
    }

    /// The idle object dirty the longest.
    func oldestDirtyKey() -> CacheKey? {
        state.withLock { state in
            Self.dirtyObjects(&state).filter { $0.object.isDirty && $0.object.lifecycle.isIdle }
                .min { ($0.object.dirtySince ?? .now) < ($1.object.dirtySince ?? .now) }?.key
        }
    }

    /// A writer had to wait for the hard dirty limit.
    func countThrottled() { state.withLock { $0.throttled += 1 } }

    var throttled: Int64 { state.withLock { $0.throttled } }
}
