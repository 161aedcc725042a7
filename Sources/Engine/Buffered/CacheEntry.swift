// The Engine's way to one key's cache entry: loading it from the catalog on a miss (the loader;
// the cache reads it outside its lock, PageCache+Entry.swift), releasing what a dropped version
// held, and the commits that bypass the cache (direct uploads, deletes, multipart Completes),
// which hold the key with a placeholder while they change its catalog row. Every commit of a key
// is thereby ordered with the cache's view of it: the extents a writeback replaces are the ones
// the catalog still has.
import Catalog
import Foundation

extension Engine {
    /// The loader of `key`'s entry: its committed version from the catalog (nil: none).
    func cacheLoader(_ volume: VolumeRecord, key: String) -> () throws(EngineError) -> CachedObject? {
        { [self] () throws(EngineError) -> CachedObject? in
            let stored = try catalogLoads.withLock { _ throws(EngineError) in
                try catalogCall { try catalog.loadObject(volumeID: volume.id!, key: key) }
            }
            return stored.map { CachedObject(volume: volume, stored: $0) }
        }
    }

    /// Releases a dropped object's reservations from the volume and the pool.
    func release(_ dropped: PageCache.DroppedVersion?) {
        guard let dropped else { return }
        space.releaseBuffered(
            volumeID: dropped.volumeID, thick: dropped.thick, logical: dropped.logical, physical: Int64(dropped.replicaSectors * PageState.sectorSize)
        )
    }

    /// What a commit that bypassed the cache leaves cached for its key.
    enum CommitEntry {
        /// Nothing: the next reader loads the new version from the catalog.
        case none
        /// The new version with the pages a direct upload wrote through (runs by first page index).
        case writtenThrough(stored: StoredObject, pages: [Int64: [Page]], count: Int)
    }

    /// Runs `commit`, a catalog change of `key` that bypasses the cache, with the key held: the
    /// cached entry is dropped and a placeholder keeps every load, write and writeback of the key
    /// waiting until the commit is done and what `install` says is in place. With `flushFirst`,
    /// dirty cached data of the key (async writes acknowledged before this commit) is written back
    /// first, so the commit replaces it instead of losing it.
    func commitBypassingCache<T>(
        _ volume: VolumeRecord, key: String, flushFirst: Bool,
        _ commit: (PageCache.DroppedVersion?) throws(EngineError) -> T,
        install: (T) -> CommitEntry = { _ in .none }
    ) throws(EngineError) -> T {
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        var held: (placeholder: CachedObject, dropped: PageCache.DroppedVersion?)?
        while held == nil {
            if flushFirst { try flushObject(cacheKey) }
            held = try pageCache.holdForCommit(cacheKey, requireClean: flushFirst, pinning: deferredFree)  // nil: written to again
        }
        let (placeholder, dropped) = held!
        defer { release(dropped) }
        let result: T
        do throws(EngineError) {
            result = try commit(dropped)
        } catch {
            pageCache.endCommit(cacheKey, placeholder: placeholder, entry: nil)
            throw error
        }
        switch install(result) {
        case .none:
            pageCache.endCommit(cacheKey, placeholder: placeholder, entry: nil)
        case .writtenThrough(let stored, let pages, let count):
            pageCache.endCommit(cacheKey, placeholder: placeholder, volume: volume, stored: stored, writtenThrough: pages, count: count)
        }
        return result
    }

    /// Runs `body` with every key of `keys` held as commits that bypass the cache (each written
    /// back first), taken in one order for every caller — by volume id, then the key's bytes — so
    /// that two changes that hold several keys never wait for each other in a cycle.
    func holdingKeys<T>(_ keys: [(VolumeRecord, String)], _ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        var ordered: [(VolumeRecord, String)] = []
        for (volume, key) in keys.sorted(by: { a, b in
            a.0.id! != b.0.id! ? a.0.id! < b.0.id! : a.1.utf8.lexicographicallyPrecedes(b.1.utf8)
        }) where ordered.last.map({ $0.0.id! != volume.id! || !$0.1.sameBytes(as: key) }) ?? true {
            ordered.append((volume, key))
        }
        return try hold(ordered[...])

        func hold(_ keys: ArraySlice<(VolumeRecord, String)>) throws(EngineError) -> T {
            guard let (volume, key) = keys.first else { return try body() }
            return try commitBypassingCache(volume, key: key, flushFirst: true) { _ throws(EngineError) in try hold(keys.dropFirst()) }
        }
    }

    /// Writes back, then drops, whatever the cache holds for `key` (before and after direct IO).
    func invalidateCached(volumeID: Int64, key: String, writeBackFirst: Bool) throws(EngineError) {
        let cacheKey = CacheKey(volumeID: volumeID, key: key)
        if writeBackFirst { try flushObject(cacheKey) }
        release(try pageCache.dropIdle(cacheKey, pinning: deferredFree))
    }
}
