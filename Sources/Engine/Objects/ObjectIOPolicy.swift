// Where an object's bytes go, decided in one place: the thresholds between buffered IO through
// the page cache, the direct writer, a buffered write that spills to the direct writer, and reads
// that stream past the cache. The front door (ObjectStore.swift) and the buffered paths read them
// from here.
extension Engine {
    /// Sync buffered PUTs up to this size go through the cache (and stay cached for reads); a
    /// larger or unknown one goes to the direct writer, which writes it through to the cache (a
    /// sync PUT of a large object gains nothing from the cache but extra copies).
    package static let syncCacheLimit: Int64 = 64 << 20

    /// Above this, a buffered PUT goes through the direct writer instead of the cache, and a
    /// PATCH (staged whole before it is applied) is refused: a quarter of the cache.
    var spillThreshold: Int64 { Int64(pageCache.capacityPages) * Int64(PageState.pageSize) / 4 }

    /// Reads of objects larger than this stream past the cache (a large sequential read would
    /// only evict what is worth keeping): 64 MiB, or less for a small cache.
    var readBypassThreshold: Int64 { min(64 << 20, spillThreshold) }
}
