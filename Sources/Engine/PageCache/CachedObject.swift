// A cached object: one key's entry in the page cache, the committed version it started from plus
// its in-memory pages and size. Owned by the PageCache; every access happens under the cache's
// lock. Who may use the entry at a given moment is its lifecycle (CachedObject+StateMachine.swift).
import Catalog
import Foundation

/// A cached object: the committed version it started from, plus in-memory pages and size.
final class CachedObject: @unchecked Sendable {
    // @unchecked: only touched under PageCache's lock.
    let volumeID: Int64
    let volumeName: String
    let key: String
    let replicas: UInt8
    let thick: Bool
    /// The committed version's extents (empty for a new object or after a whole replacement).
    var extents: [Extent]
    /// Whether the committed version's extents are superseded entirely (a buffered PUT).
    var replacesCommitted: Bool
    var committedSize: Int64
    var committedExists: Bool
    var createdAt: Date?
    /// The size clients see (committed or grown by buffered writes).
    var size: Int64
    var etag: String
    var contentType: String?
    var attributes: ObjectAttributes
    var modifiedAt: Date
    var pages: [Int64: Page] = [:]
    /// Size, ETag or existence changed in memory and not committed yet.
    var metadataDirty = false
    var dirtySince: ContinuousClock.Instant?
    /// Quota (logical bytes) held for growth beyond the committed size.
    var reservedLogical: Int64 = 0
    /// Who may use the entry now (one writeback at a time; placeholders of bypassing commits).
    var lifecycle = ObjectLifecycle()
    /// The catalog row of the committed version this entry is based on (nil: none committed).
    /// A writeback that keeps parts of the committed extents commits only over this very row.
    var committedID: Int64?
    /// The committed row's bytes are read by other rows too (`StoredObject.shared`): a PATCH is
    /// not spliced over it (`PatchBase.shared`) but written whole.
    var committedShared = false
    /// The last writeback error, reported on the next flush.
    var lastError: EngineError?
    /// The committed version's id (a volume that keeps versions writes past the cache, so the
    /// entries it changes are always of the null version).
    var versionID = VersionID.null
    /// Bumped when a writeback commits (the committed extents change).
    var commitGeneration: UInt64 = 0
    /// Bumped when size/ETag change in memory.
    var metadataGeneration: UInt64 = 0

    init(
        volumeID: Int64, volumeName: String, key: String, replicas: UInt8, thick: Bool, committed: ObjectInfo?, extents: [Extent],
        committedID: Int64? = nil, lifecycle: ObjectLifecycle = ObjectLifecycle()
    ) {
        self.committedID = committedID
        self.lifecycle = lifecycle
        self.volumeID = volumeID
        self.volumeName = volumeName
        self.key = key
        self.replicas = replicas
        self.thick = thick
        self.extents = extents
        replacesCommitted = false
        committedSize = committed?.size ?? 0
        committedExists = committed != nil
        createdAt = committed?.createdAt
        size = committed?.size ?? 0
        etag = committed?.etag ?? ""
        contentType = committed?.contentType
        attributes = committed?.attributes ?? .none
        modifiedAt = committed?.modifiedAt ?? Date()
        versionID = committed?.versionID ?? .null
    }

    /// The entry of a committed version (its catalog row and extents) of an object of `volume`.
    convenience init(volume: VolumeRecord, stored: StoredObject) {
        self.init(
            volumeID: volume.id!, volumeName: volume.name, key: stored.record.key, replicas: UInt8(volume.replicas),
            thick: volume.isThick, committed: ObjectInfo(stored.record),
            extents: stored.extents.map(Extent.init), committedID: stored.record.id)
        committedShared = stored.shared
    }

    /// A placeholder entry (`committing`, `loading`): no data, it only holds the key.
    convenience init(placeholderFor key: CacheKey, lifecycle: ObjectLifecycle) {
        precondition(lifecycle.isPlaceholder)
        self.init(
            volumeID: key.volumeID, volumeName: "", key: key.key, replicas: 1, thick: false, committed: nil, extents: [], lifecycle: lifecycle)
    }

    /// Set when the object is dropped from the cache (replaced, deleted, or evicted whole) while
    /// readers may still hold it: keeps its committed extents from being freed, and its inline
    /// extents' bytes from being forgotten, until the last reader is done.
    private var versionHold: (DeferredFree, UInt64)?

    /// Dropped from the cache (under the cache lock; before the commit that replaces the version).
    func retire(_ deferredFree: DeferredFree) {
        lifecycle.retire()
        versionHold = (deferredFree, deferredFree.pin())
    }

    deinit {
        if let (deferredFree, epoch) = versionHold { deferredFree.unpin(epoch) }
    }

    /// Pages of this object with a dirty sector (kept with the pool-wide count in PageCache).
    var dirtyPageCount = 0

    var isDirty: Bool { metadataDirty || dirtyPageCount > 0 }

    /// Clients see the object: committed, or written in memory (an async PUT not yet written back).
    var exists: Bool { committedExists || metadataDirty }

    /// The object exists only in memory: its catalog row is yet to be written.
    var isCachedOnly: Bool { !committedExists && metadataDirty }

    /// Catalog room held for the row of an object that exists only in memory (see
    /// `PageCache.pendingRowBytes`); 0 otherwise.
    var rowReservation: Int64 = 0

    var info: ObjectInfo {
        ObjectInfo(
            key: key, size: size, etag: etag, contentType: contentType, createdAt: createdAt ?? modifiedAt, modifiedAt: modifiedAt,
            metadata: attributes.metadata, checksums: attributes.checksums, parts: attributes.parts, versionID: versionID)
    }

    /// Copies on disk for each sector of page `index`, from the committed extents.
    func allocatedReplicas(page index: Int64) -> [UInt8] {
        let start = index * Int64(PageState.pageSize)
        let end = start + Int64(PageState.pageSize)
        // Common case: the whole page lies inside one extent (or past the committed end).
        if replacesCommitted || start >= committedSize { return [UInt8](repeating: 0, count: PageState.sectorsPerPage) }
        if end <= committedSize,
            let first = ExtentWalk(extents: extents, offset: start, length: Int64(PageState.pageSize)).first(where: { _ in true }),
            case .mapped(let e, _, let n) = first, n == Int64(PageState.pageSize)
        {
            return [UInt8](repeating: UInt8(extents[e].replicas.count), count: PageState.sectorsPerPage)
        }
        return (0..<PageState.sectorsPerPage).map { i in
            let offset = start + Int64(i * PageState.sectorSize)
            guard !replacesCommitted, offset < committedSize else { return 0 }
            for piece in ExtentWalk(extents: extents, offset: offset, length: 1) {
                if case .mapped(let e, _, _) = piece { return UInt8(extents[e].replicas.count) }
            }
            return 0
        }
    }
}
