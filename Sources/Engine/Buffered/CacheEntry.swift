// Access to one key's cache entry under the cache lock, gated by its lifecycle: loading it from
// the catalog, waiting while a writeback or a bypassing commit holds it, dropping it, and the
// commits that bypass the cache (direct uploads, deletes), which hold the key with a placeholder
// while they change its catalog row. Every commit of a key is thereby ordered with the cache's
// view of it: the extents a writeback replaces are the ones the catalog still has.
import Catalog
import Foundation

extension Engine {
    /// Runs `body` under the cache lock once `key`'s entry admits `use` (see PageCache+Entry.swift).
    func withCacheEntry<T>(
        _ key: CacheKey, for use: ObjectLifecycle.Use, _ body: (inout PageCache.State) throws(EngineError) -> T
    ) throws(EngineError) -> T {
        try pageCache.withAdmitted(key, for: use) { state, _ throws(EngineError) in try body(&state) }
    }

    /// Waits until no writeback or bypassing commit holds `key`, then runs `body` under the lock.
    func withIdleObject<T>(_ key: CacheKey, _ body: (inout PageCache.State) throws(EngineError) -> T) throws(EngineError) -> T {
        try withCacheEntry(key, for: .change, body)
    }

    /// Runs `body` under the cache lock with `key`'s cached object once it admits `use`: the
    /// cached one, or loaded from the catalog (read outside the lock, behind a placeholder); nil
    /// when the object exists neither in the cache nor in the catalog.
    func withCachedObject<T>(
        _ volume: VolumeRecord, key: String, for use: ObjectLifecycle.Use,
        _ body: (inout PageCache.State, CachedObject?) throws(EngineError) -> T
    ) throws(EngineError) -> T {
        try pageCache.withEntry(CacheKey(volumeID: volume.id!, key: key), for: use, load: { () throws(EngineError) -> CachedObject? in
            guard let stored = try catalogCall({ try catalog.object(volumeID: volume.id!, key: key) }) else { return nil }
            return CachedObject(
                volumeID: volume.id!, volumeName: volume.name, key: key, replicas: UInt8(volume.replicas),
                thick: volume.provisioning == Provisioning.thick.rawValue, committed: ObjectInfo(stored.record),
                extents: stored.extents.map(Extent.init), committedID: stored.record.id)
        }, body)
    }

    /// What dropping a cached object gave back: its reservations, to release outside the lock.
    struct DroppedVersion {
        let object: CachedObject
        let replicaSectors: Int
        let logical: Int64
    }

    /// Under the cache lock, on an idle entry: drops the cached object for `key` (readers that
    /// opened it keep reading it, and its committed extents stay allocated until they are done).
    func dropCachedVersion(_ state: inout PageCache.State, _ key: CacheKey) -> DroppedVersion? {
        guard let object = state.objects[key] else { return nil }
        let dropped = PageCache.drop(&state, key: key, pinning: deferredFree)
        return DroppedVersion(object: object, replicaSectors: dropped.replicaSectors, logical: dropped.logical)
    }

    /// Releases a dropped object's reservations from the volume and the pool.
    func release(_ dropped: DroppedVersion?) {
        guard let dropped else { return }
        space.releaseBuffered(
            volumeID: dropped.object.volumeID, thick: dropped.object.thick, logical: dropped.logical,
            physical: Int64(dropped.replicaSectors * PageState.sectorSize))
    }

    /// Runs `commit`, a catalog change of `key` that bypasses the cache, with the key held: the
    /// cached entry is dropped and a placeholder keeps every load, write and writeback of the key
    /// waiting until the commit is done and `install` (under the lock) has put the new entry in
    /// place (or none). With `flushFirst`, dirty cached data of the key (async writes acknowledged
    /// before this commit) is written back first, so the commit replaces it instead of losing it.
    func commitBypassingCache<T>(
        _ volume: VolumeRecord, key: String, flushFirst: Bool,
        _ commit: (DroppedVersion?) throws(EngineError) -> T,
        install: (T, inout PageCache.State) -> CachedObject? = { _, _ in nil }
    ) throws(EngineError) -> T {
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        let placeholder = CachedObject(placeholderFor: cacheKey, lifecycle: ObjectLifecycle(.committing))
        var dropped: DroppedVersion?
        while true {
            if flushFirst { try flushObject(cacheKey) }
            let held = try withIdleObject(cacheKey) { state -> Bool in
                if flushFirst, state.objects[cacheKey]?.isDirty == true { return false }  // Written to again: flush again.
                dropped = dropCachedVersion(&state, cacheKey)
                state.objects[cacheKey] = placeholder
                return true
            }
            if held { break }
        }
        defer { release(dropped) }
        let result: T
        do throws(EngineError) {
            result = try commit(dropped)
        } catch {
            pageCache.state.withLockWaking { state in
                precondition(state.objects[cacheKey] === placeholder, "a placeholder was replaced while its commit ran")
                state.objects[cacheKey] = nil
            }
            throw error
        }
        pageCache.state.withLockWaking { state in
            precondition(state.objects[cacheKey] === placeholder, "a placeholder was replaced while its commit ran")
            state.objects[cacheKey] = install(result, &state)
        }
        return result
    }
}
