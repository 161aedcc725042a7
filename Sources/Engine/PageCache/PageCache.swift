// The page cache: objects' 4 KiB pages keyed by (volume, key, page index), bounded in pages.
// Clean pages are evicted by CLOCK; dirty pages, pages under writeback and pages being sent
// never are. One lock guards all of it; page copies happen under it (4 KiB memcpy), IO never does.
import Catalog
import Logging
import Synchronization

package struct CacheKey: Hashable, Sendable {
    package var volumeID: Int64
    package var key: String

    // By bytes, as the catalog's index of keys' latest rows: String's == and hash use canonical
    // equivalence, which made "caf\u{E9}" and "cafe\u{301}" (two objects) share one entry.
    package static func == (a: CacheKey, b: CacheKey) -> Bool { a.volumeID == b.volumeID && a.key.sameBytes(as: b.key) }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(volumeID)
        hasher.combine(key.utf8.count)
        let hashed: Void? = key.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil { for byte in key.utf8 { hasher.combine(byte) } }
    }
}

/// Per-volume figures, computed from the same per-page state that holds the reservations.
package struct VolumeCacheStats: Sendable, Equatable {
    package var reservedBytes: Int64 = 0
    package var dirtyPages: Int64 = 0
    package var writebackPages: Int64 = 0
    package var cachedPages: Int64 = 0
    package var hits: Int64 = 0
    package var misses: Int64 = 0
    package var writebackBytes: Int64 = 0
    package var writebackErrors: Int64 = 0

    package init() {}
    package var dirtyBytes: Int64 { dirtyPages * Int64(PageState.pageSize) }

    /// Adds (`sign` 1) or takes away (-1) one cached page in state `page`.
    mutating func add(_ page: PageState, _ sign: Int64) {
        cachedPages += sign
        reservedBytes += sign * Int64(page.reservedReplicas * PageState.sectorSize)
        if page.isDirty { dirtyPages += sign }
        if page.writebackInFlight > 0 { writebackPages += sign }
    }
}

final class PageCache: Sendable {
    struct State {
        var objects: [CacheKey: CachedObject] = [:]
        var pageCount = 0
        /// CLOCK ring of (object, page) candidates for eviction.
        var clock: [(CacheKey, Int64)] = []
        var hand = 0
        /// Per volume id: hits, misses and writeback counters, and the running figures of the
        /// pages of its cached objects (kept by `count` at every change of a page's state).
        var counters: [Int64: VolumeCacheStats] = [:]
        var throttled: Int64 = 0
        /// Pages with at least one dirty sector, pool-wide.
        var dirtyPages = 0
        /// Keys whose object was dirtied since it was last seen clean: a superset of the dirty
        /// objects (cleaned ones leave when `dirtyObjects` meets them), so that finding what to
        /// write back or list costs what is dirty, not what is cached.
        var dirtyKeys: Set<CacheKey> = []
        /// Frames filled by uploads written through (not in the cache until their commit), counted
        /// against the capacity like cached pages.
        var staged = 0
        /// Bumped whenever room is made (a page cleaned, an object dropped, staged frames given
        /// back): writers waiting for room (`waitForRoom`) look again.
        var roomEpoch = 0
        /// Catalog room held for the rows of objects that exist only in memory (async writes not
        /// yet written back): a new object is refused while the catalog's pages in use and this
        /// exceed its limit, so that every accepted object's row finds room at writeback.
        var pendingRowBytes: Int64 = 0
        /// Where an entry that eviction drops pins its committed version (see `evict`).
        let deferredFree: DeferredFree
    }

    /// The catalog room an object's row (and its key's index entry, extents and attributes) may
    /// take: measured at ~405 bytes for a short key and no attributes, so a bound with margin.
    static func rowBytes(key: String, metadata: [String: String] = [:]) -> Int64 {
        Int64(1024 + 2 * key.utf8.count + metadata.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count })
    }

    /// Catalog room held for rows not written yet (pool-wide; with TEST_HOOKS, checked against a
    /// scan of the entries).
    var pendingRowBytes: Int64 {
        state.withLock { state in
            #if TEST_HOOKS
                let scanned = state.objects.values.reduce(Int64(0)) { sum, object in
                    sum + (object.isCachedOnly ? Self.rowBytes(key: object.key, metadata: object.attributes.metadata) : 0)
                }
                precondition(scanned == state.pendingRowBytes, "catalog room held for rows drifted: \(state.pendingRowBytes) vs \(scanned)")
            #endif
            return state.pendingRowBytes
        }
    }

    /// Holds catalog room for `object`'s row while it exists only in memory (and is in the cache,
    /// `inCache`), and gives it back once it has a row or leaves.
    static func settleRowReservation(_ state: inout State, _ object: CachedObject, inCache: Bool = true) {
        let wanted = inCache && object.isCachedOnly ? rowBytes(key: object.key, metadata: object.attributes.metadata) : 0
        state.pendingRowBytes += wanted - object.rowReservation
        object.rowReservation = wanted
    }

    let capacityPages: Int
    let state: Lock<State>

    init(capacityBytes: Int64, deferredFree: DeferredFree) {
        capacityPages = max(256, Int(capacityBytes / Int64(PageState.pageSize)))
        state = Lock(State(deferredFree: deferredFree))
    }

    /// Makes room for `count` new pages by evicting clean, unreferenced pages (CLOCK). An entry
    /// left without pages leaves the cache retired, as a replaced one does: a reader that opened
    /// it and reads on (filling from its extents) keeps its version, the extents' space and an
    /// inline extent's kept bytes, until it is done, whatever replaces or deletes it meanwhile.
    static func evict(_ state: inout State, capacity: Int, toFit count: Int) {
        var scanned = 0
        while state.pageCount + state.staged + count > capacity, !state.clock.isEmpty, scanned < state.clock.count * 2 {
            if state.hand >= state.clock.count { state.hand = 0 }
            let (key, index) = state.clock[state.hand]
            guard let object = state.objects[key], let page = object.pages[index] else {
                removeClockEntry(&state)
                continue
            }
            if page.state.isDirty || page.state.writebackInFlight > 0 || page.sendPins > 0 || object.lifecycle.isFlushing {
                state.hand += 1
            } else if page.referenced {
                page.referenced = false
                state.hand += 1
            } else {
                Self.countPage(&state, object, page, -1)
                object.pages[index] = nil
                state.pageCount -= 1
                removeClockEntry(&state)
                if object.pages.isEmpty, !object.isDirty {
                    state.objects[key] = nil
                    object.retire(state.deferredFree)
                }
            }
            scanned += 1
        }
    }

    /// Puts page `index` of `key` on the CLOCK ring. Entries of pages that are gone (evicted
    /// objects, replaced or deleted versions) are dropped only when the hand passes them, and the
    /// hand only moves when the cache is full: so when stale entries outnumber the pages, the ring
    /// is rebuilt from the live ones (amortized O(1); without it a cache that never fills grew by
    /// an entry per page written, for ever).
    static func track(_ state: inout State, _ key: CacheKey, _ index: Int64) {
        state.clock.append((key, index))
        guard state.clock.count > 2 * state.pageCount + 4096 else { return }
        struct Entry: Hashable {
            var key: CacheKey
            var index: Int64
        }
        var seen = Set<Entry>(minimumCapacity: state.pageCount)
        let objects = state.objects
        state.clock.removeAll { key, index in
            guard objects[key]?.pages[index] != nil else { return true }
            return !seen.insert(Entry(key: key, index: index)).inserted
        }
        state.hand = 0
    }

    private static func removeClockEntry(_ state: inout State) {
        state.clock.swapAt(state.hand, state.clock.count - 1)
        state.clock.removeLast()
    }

    /// Counts `count` frames of an upload written through against the capacity, evicting clean
    /// pages to make room; false (nothing counted) when the cache cannot hold them.
    static func reserveStaging(_ state: inout State, capacity: Int, count: Int) -> Bool {
        evict(&state, capacity: capacity, toFit: count)
        guard state.pageCount + state.staged + count <= capacity else { return false }
        state.staged += count
        return true
    }

    /// Inserts a new page for `object` at `index` (evicting if needed).
    static func insert(_ state: inout State, capacity: Int, key: CacheKey, object: CachedObject, index: Int64, zeroed: Bool = true) -> Page {
        evict(&state, capacity: capacity, toFit: 1)
        let page = Page(zeroed: zeroed)
        add(&state, page, at: index, of: object, key: key)
        return page
    }

    /// The one way a page enters the cache: `page` becomes page `index` of `object` (the entry of
    /// `key`), counted and on the CLOCK ring. Room was made (or counted as staging) by the caller.
    static func add(_ state: inout State, _ page: Page, at index: Int64, of object: CachedObject, key: CacheKey) {
        precondition(object.pages[index] == nil, "page \(index) of \(key.key) added twice")
        object.pages[index] = page
        Self.countPage(&state, object, page, 1)
        state.pageCount += 1
        track(&state, key, index)
    }

    /// Page `index` of `object` to write into: `page` itself, or, while a response is sending its
    /// frame (`sendPins`), a copy that takes its place (the send keeps the old bytes).
    static func writable(_ page: Page, at index: Int64, of object: CachedObject) -> Page {
        guard page.sendPins > 0 else { return page }
        let copy = page.copy()
        object.pages[index] = copy
        return copy
    }

    /// Drops an idle object from the cache and retires it, pinning its committed version for the
    /// readers that still hold it; returns the reservation (copies' worth of sectors) its pages held.
    static func drop(_ state: inout State, key: CacheKey, pinning deferredFree: DeferredFree) -> (replicaSectors: Int, logical: Int64) {
        guard let object = state.objects.removeValue(forKey: key) else { return (0, 0) }
        settleRowReservation(&state, object, inCache: false)
        object.retire(deferredFree)
        var released = 0
        for page in object.pages.values {
            Self.countPage(&state, object, page, -1)
            if page.state.isDirty { state.dirtyPages -= 1 }
            object.dirtyPageCount = 0
            released += page.state.invalidate()
        }
        state.pageCount -= object.pages.count
        state.roomEpoch &+= 1
        // The pages stay with the object: a reader that opened this version keeps reading them.
        return (released, object.reservedLogical)
    }

    /// A page of `object` went from clean to dirty, or back.
    static func pageDirtied(_ state: inout State, _ object: CachedObject) {
        state.dirtyPages += 1
        object.dirtyPageCount += 1
        state.dirtyKeys.insert(CacheKey(volumeID: object.volumeID, key: object.key))
    }

    /// The object's metadata (size, ETag, …) changed in memory and is to be written back.
    static func metadataDirtied(_ state: inout State, _ object: CachedObject) {
        object.metadataDirty = true
        settleRowReservation(&state, object)
        state.dirtyKeys.insert(CacheKey(volumeID: object.volumeID, key: object.key))
    }

    /// The cached objects that are dirty or hold a writeback error, with their keys; keys of
    /// objects found clean (or gone) are dropped from `dirtyKeys` on the way.
    static func dirtyObjects(_ state: inout State) -> [(key: CacheKey, object: CachedObject)] {
        var found: [(key: CacheKey, object: CachedObject)] = []
        var clean: [CacheKey] = []
        for key in state.dirtyKeys {
            guard let object = state.objects[key], object.isDirty || object.lastError != nil || !object.lifecycle.isIdle else {
                clean.append(key)
                continue
            }
            found.append((key, object))
        }
        for key in clean { state.dirtyKeys.remove(key) }
        return found
    }

    static func pageCleaned(_ state: inout State, _ object: CachedObject) {
        state.dirtyPages -= 1
        object.dirtyPageCount -= 1
        state.roomEpoch &+= 1
    }

    /// Waits until room is made after `seen` (a `roomEpoch`), or a little while: the changes
    /// that make room wake waiters when they are made with `withLockWaking` (a writeback's end,
    /// staged frames given back); the timeout covers the drops that are not.
    func waitForRoom(after seen: Int) {
        EventLoopGuard.assertMayWait("waiting for room in the page cache")
        state.wait(seconds: 0.002) { $0.roomEpoch != seen }
    }

    var roomEpoch: Int { state.withLock { $0.roomEpoch } }

    /// Adds (`sign` 1) or takes away (-1) what `page`, a page of the cached `object`, counts in
    /// its volume's figures. Every change of a cached page's state is wrapped in a -1 before and a
    /// 1 after; a page entering or leaving an object in the cache is one of them.
    static func countPage(_ state: inout State, _ object: CachedObject, _ page: Page, _ sign: Int64) {
        state.counters[object.volumeID, default: VolumeCacheStats()].add(page.state, sign)
    }

    /// A volume's figures: running counters, not a scan (with TEST_HOOKS, checked against one).
    func stats(volumeID: Int64) -> VolumeCacheStats {
        state.withLock { state in
            let stats = state.counters[volumeID] ?? VolumeCacheStats()
            #if TEST_HOOKS
                var scanned = VolumeCacheStats()
                for object in state.objects.values where object.volumeID == volumeID {
                    for page in object.pages.values { scanned.add(page.state, 1) }
                }
                precondition(
                    (scanned.cachedPages, scanned.reservedBytes, scanned.dirtyPages, scanned.writebackPages)
                        == (stats.cachedPages, stats.reservedBytes, stats.dirtyPages, stats.writebackPages),
                    "the cache's running figures of volume \(volumeID) drifted from its pages: \(stats) vs \(scanned)")
            #endif
            return stats
        }
    }

    /// Sum over every cached page of its reserved sectors (bytes): the reservation invariant.
    var reservedBytes: Int64 {
        state.withLock { $0.counters.values.reduce(0) { $0 + $1.reservedBytes } }
    }

    /// Pool-wide writeback bytes and errors, and writers throttled.
    var totals: (writebackBytes: Int64, writebackErrors: Int64, throttled: Int64) {
        state.withLock { state in
            (state.counters.values.reduce(0) { $0 + $1.writebackBytes }, state.counters.values.reduce(0) { $0 + $1.writebackErrors }, state.throttled)
        }
    }

    /// The pool's dirty pages and the room epoch (for `waitForRoom`).
    var dirtyPagesAndRoom: (dirtyPages: Int, roomEpoch: Int) { state.withLock { ($0.dirtyPages, $0.roomEpoch) } }

    /// The keys of `volumeID` the cache holds an entry for.
    func keys(volumeID: Int64) -> [CacheKey] {
        state.withLock { state in state.objects.keys.filter { $0.volumeID == volumeID } }
    }

    /// What clients see of the objects of `volumeID` whose metadata is newer in memory than in
    /// the catalog (accepted with async durability, not written back yet), filtered by `include`.
    func pendingVersions(volumeID: Int64, include: (String) -> Bool) -> [ObjectInfo] {
        state.withLock { state in
            Self.dirtyObjects(&state).map(\.object).filter { $0.volumeID == volumeID && $0.metadataDirty && include($0.key) }.map(\.info)
        }
    }

    var dirtyPages: Int { state.withLock { $0.dirtyPages } }
}
