// The page cache's side of buffered writes (Buffered/ stages the bytes and moves the space):
// what an object looks like to a writer, what a PATCH must reserve, installing a staged
// replacement (PUT) or applying a staged range (PATCH) atomically under the lock — moving the
// upload's reservation into the per-sector state —, and frames staged outside the cache counted
// against its capacity. Each entry point loads a key that is not cached through `load` (outside
// the lock, PageCache+Entry.swift).
import Catalog
import Foundation

extension PageCache {
    typealias Loader = () throws(EngineError) -> CachedObject?

    /// What clients see of `key` now; nil when it does not exist.
    func objectInfo(_ key: CacheKey, load: Loader) throws(EngineError) -> ObjectInfo? {
        try withEntry(key, for: .read, load: load) { _, object in object.flatMap { $0.exists ? $0.info : nil } }
    }

    /// What clients see of `key`, and whether its committed row shares its bytes with other rows
    /// (replacing it then frees nothing, so it is no credit against the quota); nil when it does not exist.
    func replacementBase(_ key: CacheKey, load: Loader) throws(EngineError) -> (info: ObjectInfo, shared: Bool)? {
        try withEntry(key, for: .read, load: load) { _, object in object.flatMap { $0.exists ? ($0.info, $0.committedShared) : nil } }
    }

    /// `key`'s entry and what clients see of it, for a reader; nil when it does not exist.
    func openForRead(_ key: CacheKey, load: Loader) throws(EngineError) -> (CachedObject, ObjectInfo)? {
        try withEntry(key, for: .read, load: load) { _, object in object.flatMap { $0.exists ? ($0, $0.info) : nil } }
    }

    /// Space a PATCH of [offset, offset+length) needs: copies' worth of sectors not yet backed or
    /// reserved, and quota for growth past what is already covered. nil when the object does not exist.
    func patchReservation(
        _ key: CacheKey, load: Loader, offset: Int64, length: Int64, alreadyLogical: Int64
    ) throws(EngineError) -> (physical: Int64, logical: Int64)? {
        try withEntry(key, for: .read, load: load) { _, object in
            guard let object, object.exists else { return nil }
            let sector = Int64(PageState.sectorSize)
            var copies: Int64 = 0
            var position = offset / sector * sector
            while position < offset + length {
                let index = position / Int64(PageState.pageSize)
                let inPage = Int(position % Int64(PageState.pageSize)) / PageState.sectorSize
                var pageState = object.pages[index]?.state ?? PageState()
                if !pageState.known { pageState.load(allocated: object.allocatedReplicas(page: index)) }
                copies += Int64(pageState.reservationNeeded(inPage..<inPage + 1, want: object.replicas))
                position += sector
            }
            let covered = max(object.size, object.committedSize + object.reservedLogical) + alreadyLogical
            return (copies * sector, max(0, offset + length - covered))
        }
    }

    /// A staged whole-object replacement (`pages`, `staging` frames counted as staged) becomes the
    /// visible version of `key`, dirty, its sectors holding the reservation. Returns what clients
    /// see and what to release: the replaced entry's reservation and the excess of this one.
    func installReplacement(
        _ key: CacheKey, load: Loader, volume: VolumeRecord, contentType: String?, attributes: ObjectAttributes, etag: String, size: Int64,
        pages: [Page], staging: Int, reservedLogical: Int64, reservedPhysical: Int64, conditions: WriteConditions = .none,
        pinning deferredFree: DeferredFree
    ) throws(EngineError) -> (info: ObjectInfo, releasePhysical: Int64, releaseLogical: Int64) {
        try withEntry(key, for: .change, load: load) { state, previous throws(EngineError) in
            // Under the cache's lock, where the replacement becomes visible: the conditions see
            // the version it replaces, and no other write of the key can come between.
            try conditions.check(current: previous.flatMap { $0.exists ? $0.etag : nil }, volume: volume.name, key: key.key)
            let dropped = Self.drop(&state, key: key, pinning: deferredFree)
            let object = CachedObject(
                volumeID: volume.id!, volumeName: volume.name, key: key.key, replicas: UInt8(volume.replicas),
                thick: volume.isThick, committed: nil, extents: previous?.extents ?? [],
                committedID: previous?.committedID)
            object.committedExists = previous?.committedExists ?? false
            object.committedSize = previous?.committedSize ?? 0
            object.createdAt = previous?.createdAt
            object.replacesCommitted = true
            object.size = size
            object.etag = etag
            object.contentType = contentType
            object.attributes = attributes
            object.modifiedAt = Date().truncatedToMilliseconds
            Self.metadataDirtied(&state, object)
            object.dirtySince = .now
            object.reservedLogical = reservedLogical
            var moved = 0
            // The pages were counted against the capacity while staged (`staging` frames held).
            state.staged -= staging
            object.pages.reserveCapacity(pages.count)
            for (i, page) in pages.enumerated() {
                let index = Int64(i)
                let valid = Int(min(Int64(PageState.pageSize), size - index * Int64(PageState.pageSize)))
                page.state.load(allocated: [UInt8](repeating: 0, count: PageState.sectorsPerPage))
                moved += page.state.markDirty(0..<(valid + PageState.sectorSize - 1) / PageState.sectorSize, want: object.replicas)
                page.generation += 1
                Self.add(&state, page, at: index, of: object, key: key)
                Self.pageDirtied(&state, object)
            }
            state.objects[key] = object
            let excess = reservedPhysical - Int64(moved * PageState.sectorSize)
            precondition(excess >= 0, "replacement moved more reservation (\(moved) sectors) than it held (\(reservedPhysical) bytes)")
            return (object.info, Int64(dropped.replicaSectors * PageState.sectorSize) + excess, dropped.logical)
        }
    }

    /// What a PATCH's staged pages overwrite partly and the cache does not hold: read from the
    /// committed version (`extents`, `committedSize`) before the PATCH is applied, and applied
    /// only if `object` is still the entry, at commit `generation`.
    struct PatchBase {
        var object: CachedObject
        var needed: [Int64]
        var extents: [Extent]
        var committedSize: Int64
        var generation: UInt64
        /// The PATCH would be spliced over extents other rows read too (`CachedObject.committedShared`).
        var shared: Bool
    }

    /// nil when the object does not exist.
    func patchBase(_ key: CacheKey, load: Loader, pages: [Int64: (page: Page, bytes: Range<Int>)]) throws(EngineError) -> PatchBase? {
        try withEntry(key, for: .read, load: load) { _, object in
            guard let object, object.exists else { return nil }
            let needed = pages.filter { index, entry in
                object.pages[index] == nil && entry.bytes != 0..<PageState.pageSize
                    && index * Int64(PageState.pageSize) < object.committedSize && !object.replacesCommitted
            }.map(\.key)
            return PatchBase(
                object: object, needed: needed, extents: object.extents, committedSize: object.committedSize, generation: object.commitGeneration,
                shared: object.committedShared && !object.replacesCommitted)
        }
    }

    /// Applies a staged PATCH of [offset, offset+length) atomically: `fills` (the `base`'s pages
    /// read from disk) complete pages partly overwritten; `reserve` takes more physical space when
    /// the sectors need more than `reservedPhysical` (it throws to refuse). Returns what clients see
    /// and the excess reservation to release; nil when the entry changed since `base` (read again).
    /// Throws `notFound` when the object is gone.
    func applyPatch(
        _ key: CacheKey, load: Loader, base: PatchBase, fills: [Int64: Page], staged: [Int64: (page: Page, bytes: Range<Int>)],
        offset: Int64, length: Int64, etag: String, reservedLogical: Int64, reservedPhysical: Int64, notFound: EngineError,
        reserve: (Int64) throws(EngineError) -> Void
    ) throws(EngineError) -> (info: ObjectInfo, excess: Int64)? {
        let capacity = capacityPages
        return try withEntry(key, for: .change, load: load) { state, object throws(EngineError) -> (info: ObjectInfo, excess: Int64)? in
            guard let object, object.exists else { throw notFound }
            // The fills are of the version they were read from: the same entry, not committed since.
            guard object === base.object, object.commitGeneration == base.generation else { return nil }
            var need = 0
            var targets: [(Int64, Page, Range<Int>)] = []
            for (index, entry) in staged.sorted(by: { $0.key < $1.key }) {
                let page: Page
                if let cached = object.pages[index] {
                    page = Self.writable(cached, at: index, of: object)
                } else {
                    page = fills[index] ?? Page()
                    Self.evict(&state, capacity: capacity, toFit: 1)
                    Self.add(&state, page, at: index, of: object, key: key)
                }
                if !page.state.known { page.state.load(allocated: object.allocatedReplicas(page: index)) }
                let sectors =
                    entry.bytes.lowerBound / PageState.sectorSize..<(entry.bytes.upperBound + PageState.sectorSize - 1) / PageState.sectorSize
                need += page.state.reservationNeeded(sectors, want: object.replicas)
                targets.append((index, page, sectors))
            }
            let needBytes = Int64(need * PageState.sectorSize)
            if needBytes > reservedPhysical { try reserve(needBytes - reservedPhysical) }
            for (index, page, sectors) in targets {
                Self.countPage(&state, object, page, -1)
                defer { Self.countPage(&state, object, page, 1) }
                let range = staged[index]!.bytes
                UnsafeMutableRawBufferPointer(rebasing: page.bytes[range])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: staged[index]!.page.bytes[range]))
                if !page.state.isDirty { Self.pageDirtied(&state, object) }
                page.state.markDirty(sectors, want: object.replicas)
                page.generation += 1
                page.referenced = true
            }
            object.size = max(object.size, offset + length)
            object.reservedLogical += reservedLogical
            object.etag = etag
            // They described the bytes before the PATCH.
            (object.attributes.checksums, object.attributes.parts) = ([:], [])
            object.modifiedAt = Date().truncatedToMilliseconds
            Self.metadataDirtied(&state, object)
            object.metadataGeneration += 1
            if object.dirtySince == nil { object.dirtySince = .now }
            return (object.info, max(0, reservedPhysical - needBytes))
        }
    }

    /// Counts `count` frames an upload stages outside the cache against its capacity (evicting
    /// clean pages for them); false when there is no room now. Also the room epoch to wait on.
    func reserveStaging(_ count: Int) -> (reserved: Bool, roomEpoch: Int) {
        let capacity = capacityPages
        return state.withLock { (Self.reserveStaging(&$0, capacity: capacity, count: count), $0.roomEpoch) }
    }

    /// Gives back the capacity held by `count` staged frames that will not be installed.
    func unstage(_ count: Int) {
        state.withLockWaking { state in
            state.staged -= count
            state.roomEpoch &+= 1
        }
    }
}
