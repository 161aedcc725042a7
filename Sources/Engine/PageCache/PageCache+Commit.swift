// The page cache's side of commits that bypass it (a direct upload's, a delete's, a multipart
// Complete's; Buffered/CacheEntry.swift runs them): the key's entry is dropped and a `committing`
// placeholder holds the key until the commit is done, then the new entry (or none) takes its
// place. Also dropping an idle entry (around direct IO).
import Catalog

extension PageCache {
    /// What dropping a cached object gave back: its reservations, to release outside the lock.
    struct DroppedVersion {
        let volumeID: Int64
        let thick: Bool
        let replicaSectors: Int
        let logical: Int64
        /// The object existed only in the cache (an async write never written back).
        let wasCachedOnly: Bool
    }

    /// Drops `key`'s entry, idle (waiting for one busy): readers that opened it keep reading it,
    /// its committed extents stay allocated until they are done. nil when nothing was cached.
    func dropIdle(_ key: CacheKey, pinning deferredFree: DeferredFree) throws(EngineError) -> DroppedVersion? {
        try withAdmitted(key, for: .change) { state, _ in Self.dropVersion(&state, key, pinning: deferredFree) }
    }

    private static func dropVersion(_ state: inout State, _ key: CacheKey, pinning deferredFree: DeferredFree) -> DroppedVersion? {
        guard let object = state.objects[key] else { return nil }
        let wasCachedOnly = !object.committedExists && object.metadataDirty
        let dropped = drop(&state, key: key, pinning: deferredFree)
        return DroppedVersion(
            volumeID: object.volumeID, thick: object.thick, replicaSectors: dropped.replicaSectors, logical: dropped.logical,
            wasCachedOnly: wasCachedOnly)
    }

    /// Once `key`'s entry is idle, and clean when `requireClean` (else nil: written to again, flush
    /// again): drops it and puts a `committing` placeholder in its place. `.some(dropped)`: held.
    func holdForCommit(_ key: CacheKey, requireClean: Bool, pinning deferredFree: DeferredFree) throws(EngineError) -> (
        CachedObject, DroppedVersion?
    )? {
        try withAdmitted(key, for: .change) { state, object in
            if requireClean, object?.isDirty == true { return nil }
            let dropped = Self.dropVersion(&state, key, pinning: deferredFree)
            let placeholder = CachedObject(placeholderFor: key, lifecycle: ObjectLifecycle(.committing))
            state.objects[key] = placeholder
            return (placeholder, dropped)
        }
    }

    /// The commit `placeholder` held `key` for ended: `entry` (the new version's, or nil) takes its
    /// place, and whoever waited for the key looks again.
    func endCommit(_ key: CacheKey, placeholder: CachedObject, entry: CachedObject?) {
        state.withLockWaking { state in
            precondition(state.objects[key] === placeholder, "a placeholder was replaced while its commit ran")
            state.objects[key] = entry
        }
    }

    /// A direct upload's new version with its written-through pages (`pages`: runs by first page
    /// index, `count` frames counted as staged until now) as its clean cached pages, and the
    /// commit's placeholder replaced by it.
    func endCommit(
        _ key: CacheKey, placeholder: CachedObject, volume: VolumeRecord, stored: StoredObject, writtenThrough pages: [Int64: [Page]], count: Int
    ) {
        let pageSize = Int64(PageState.pageSize)
        let object = CachedObject(volume: volume, stored: stored)
        let whole = [UInt8](repeating: UInt8(volume.replicas), count: PageState.sectorsPerPage)
        state.withLockWaking { state in
            precondition(state.objects[key] === placeholder, "a placeholder was replaced while its commit ran")
            for (first, run) in pages {
                for (i, page) in run.enumerated() {
                    let index = first + Int64(i)
                    page.state.load(allocated: (index + 1) * pageSize <= object.committedSize ? whole : object.allocatedReplicas(page: index))
                    Self.add(&state, page, at: index, of: object, key: key)
                }
            }
            state.staged -= count  // Counted against the capacity while staged; cached pages now.
            state.objects[key] = object
        }
    }
}
