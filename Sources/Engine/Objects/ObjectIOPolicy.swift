// Where an object's bytes go, decided in one place: the thresholds between buffered IO through
// the page cache, the direct writer, a buffered write that spills to the direct writer, reads
// that stream past the cache, and small objects kept inline in the catalog. The front door
// (ObjectStore.swift) and the buffered paths read them from here.
import Synchronization

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

    /// Objects up to this size are written back into their catalog row (inline) rather than to
    /// extents on devices, when the catalog can hold them (`catalogHoldsInline`). 0: never.
    /// Chosen by measurement (sync PUTs, inline against extents, with room for all of them): 4 KiB
    /// +37 % with one client and +26 % with 32; 8 KiB +28 % and -6 %; 12 KiB +40 % and -13 %;
    /// 16 KiB +30 % and -10 %; 64 KiB -9 % and -48 % (past a few KiB the catalog's one writer
    /// carries every byte twice, WAL then checkpoint, to each copy).
    package static let defaultInlineMaxBytes: Int64 = 8 << 10

    /// The largest `--inline-max-bytes`: an inline object is read and written whole.
    package static let inlineMaxBytesLimit: Int64 = 1 << 20

    var inlineMaxBytes: Int64 { inlineLimit.load(ordering: .relaxed) }

    /// Sets the largest object kept inline (0: none); objects written before keep where they are.
    package func configureInline(maxBytes: Int64) throws(EngineError) {
        guard maxBytes >= 0, maxBytes <= Self.inlineMaxBytesLimit else {
            throw .invalidArgument(field: "inline-max-bytes", reason: "must be between 0 and \(Self.inlineMaxBytesLimit)")
        }
        inlineLimit.store(maxBytes, ordering: .relaxed)
    }

    /// Whether the snapshot's object is written back into its catalog row.
    func writesInline(_ snapshot: PageCache.WritebackSnapshot) -> Bool {
        guard snapshot.size > 0, snapshot.size <= inlineMaxBytes else { return false }
        // A committed inline version that still fits stays in the catalog.
        if !snapshot.replacesCommitted, snapshot.extents.contains(where: \.isInline) { return true }
        return catalogHoldsInline(replicas: snapshot.object.replicas, bytes: snapshot.size)
    }

    /// The share of the catalog's room inline objects may fill: every byte of it is room a row of
    /// an object on devices cannot have (about 405 bytes each), so it costs the pool up to this
    /// share of the objects it can hold. (Found by `make bench` on 8 GiB devices: with half the
    /// room for inline objects, the rows of the next 300,000 objects filled the rest and new
    /// objects were refused.)
    static let inlineRoomShare: Int64 = 8

    /// The catalog may take `bytes` more of object data: it has at least `replicas` copies on
    /// active devices (an inline object is on as many devices as the catalog's copies), and its
    /// pages in use stay under an eighth of its smallest copy's room (`inlineRoomShare`).
    func catalogHoldsInline(replicas: UInt8, bytes: Int64) -> Bool {
        let figures = mirror.figures
        guard figures.databaseUsedBytes + bytes <= figures.databaseCapacity / Self.inlineRoomShare else { return false }
        let onDevices = mirror.copies.filter { copy in
            guard let id = copy.place.deviceID else { return false }
            return devices.lifecycle(id: id)?.state == .active && devices.device(id: id) != nil
        }
        return onDevices.count >= Int(replicas)
    }
}
