// The object entry points: upload, open for reading, delete, list. Everything here goes through
// the direct (uncached) path.
package import Catalog
import Foundation
import Synchronization

extension Engine {
    package static let maxKeyBytes = 1024
    /// The largest object (and the furthest byte a write may reach): a volume's largest capacity.
    /// Lengths and offsets are checked against it before any arithmetic, so sizes × replicas and
    /// offset + length stay far inside Int64.
    package static let maxObjectBytes: Int64 = VolumeRules.maxCapacity

    /// A write of `length` bytes at `offset`: both non-negative and the end within maxObjectBytes.
    static func validate(offset: Int64 = 0, length: Int64?) throws(EngineError) {
        guard let length else { return }
        guard offset >= 0, length >= 0 else { throw .invalidArgument(field: "length", reason: "must not be negative") }
        guard offset <= maxObjectBytes, length <= maxObjectBytes - offset else {
            throw .objectTooLarge(bytes: offset > maxObjectBytes - length ? .max : offset + length, limit: maxObjectBytes)
        }
    }

    /// Keys: 1–1024 bytes of UTF-8 without NUL.
    static func validate(key: String) throws(EngineError) {
        let count = key.utf8.count
        guard (1...maxKeyBytes).contains(count) else {
            throw .invalidArgument(field: "key", reason: "must be 1 to \(maxKeyBytes) bytes of UTF-8")
        }
        guard !key.utf8.contains(0) else { throw .invalidArgument(field: "key", reason: "must not contain NUL") }
    }

    /// The volume's row, from memory when possible: every object request needs it. Volume
    /// changes all go through the Engine, which updates or drops the cached row.
    func volumeRecord(named name: String) throws(EngineError) -> VolumeRecord {
        if let cached = volumeRecords.withLock({ $0[name] }) { return cached }
        guard let volume = try catalogCall({ try catalog.volumeRecord(named: name) }) else { throw .volumeNotFound(name: name) }
        volumeRecords.withLock { $0[name] = volume }
        return volume
    }

    /// Starts an upload. With a known `length` the whole quota and pool space is reserved now
    /// (507 before a byte is stored); without, it is reserved extent by extent as data arrives.
    /// `cacheThrough` (a buffered-mode upload sent direct): an object of known length that fits
    /// the cache's staging limit is also left in the cache, clean, as it is written.
    package func beginUpload(
        volume name: String, key: String, contentType: String?, length: Int64?, cacheThrough: Bool = false,
        metadata: [String: String] = [:], checksums: [String: String] = [:], conditions: WriteConditions = .none
    ) throws(EngineError) -> ObjectWriter {
        try Self.validate(key: key)
        try Self.validate(length: length)
        let volume = try volumeRecord(named: name)
        // Earlier buffered writes to this object reach the disk first, so the order is kept.
        try flushObject(CacheKey(volumeID: volume.id!, key: key))
        let stored = try catalogCall { try catalog.object(volumeID: volume.id!, key: key) }
        let current = stored?.record
        // Refused now before the body is taken; checked again in the commit's transaction.
        try conditions.check(current: current?.etag, volume: name, key: key)
        // A volume that keeps rows gains a row with every write, and frees nothing it replaces;
        // nor does a version whose bytes copies share (they stay, a copy's).
        let keepsRows = volume.keepsRows
        if current == nil || keepsRows { try checkMetadataRoom(key: key, metadata: metadata) }
        let writer = try ObjectWriter(
            engine: self, volume: volume, key: key, contentType: contentType,
            attributes: ObjectAttributes(metadata: metadata, checksums: checksums), declaredLength: length, replacing: current?.size,
            keepsReplaced: keepsRows || stored?.shared == true, cacheThrough: cacheThrough && (length ?? Int64.max) <= spillThreshold)
        writer.conditions = conditions
        return writer
    }

    /// Opens the current version of an object (or the version `version`) for reading; close the
    /// reader when done.
    package func openObject(volume name: String, key: String, version: VersionID? = nil) throws(EngineError) -> ObjectReader {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        // A direct read sees what buffered writes acknowledged: write the dirty pages back first.
        try flushObject(CacheKey(volumeID: volume.id!, key: key))
        return try openPinned(volume: name) { () throws(EngineError) in
            let found =
                if let version {
                    try catalogCall { try catalog.object(volumeID: volume.id!, key: key, version: version) }
                } else {
                    try catalogCall { try catalog.object(volumeID: volume.id!, key: key) }
                }
            guard let object = found else {
                throw version.map { .versionNotFound(volume: name, key: key, version: $0.description) } ?? .objectNotFound(volume: name, key: key)
            }
            if object.record.deleteMarker {
                throw .versionIsDeleteMarker(volume: name, key: key, version: object.record.versionID.description)
            }
            return object
        }
    }

    /// A reader of the object `find` looks up, its extents pinned from before the lookup (a
    /// change that frees them after it waits for the reader to close).
    func openPinned(volume name: String, _ find: () throws(EngineError) -> StoredObject) throws(EngineError) -> ObjectReader {
        let epoch = deferredFree.pin()
        do throws(EngineError) {
            return ObjectReader(engine: self, volume: name, object: try find(), epoch: epoch)
        } catch {
            deferredFree.unpin(epoch)
            throw error
        }
    }

    /// Deletes `key`'s current object, or its version `version`. In a volume that keeps versions,
    /// a delete without a version hides the object behind a delete marker (the versions stay);
    /// `markerIfAbsent` (S3) adds the marker even when the key has no current object. Returns the
    /// version deleted or the marker added (`deleteMarker`).
    @discardableResult
    package func deleteObject(
        volume name: String, key: String, version: VersionID? = nil, markerIfAbsent: Bool = false
    ) throws(EngineError) -> ObjectInfo? {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        let removal: ObjectRemoval =
            if let version { .version(version) } else if volume.versioning == .off { .current } else {
                .marker(versioned: volume.versioning == .enabled, ifCurrent: !markerIfAbsent)
            }
        var wasCachedOnly = false
        var freedEarly = false
        // Only the current object's delete may drop async writes not yet written back (it deletes
        // them too); any other change comes after them.
        let deletion = try commitBypassingCache(volume, key: key, flushFirst: removal != .current) { dropped throws(EngineError) in
            wasCachedOnly = dropped?.wasCachedOnly ?? false
            if planted.contains(.reuseBeforeFreeIsDurable), removal == .current,
                let doomed = try catalogCall({ try catalog.object(volumeID: volume.id!, key: key) })
            {
                allocator.free(
                    doomed.extents.flatMap(\.replicas).map(PhysicalRange.init))
                freedEarly = true
            }
            return try space.commit(SpaceAccounting.Reservation(volumeID: volume.id!, thick: false)) { () throws(EngineError) in
                let deletion = try catalogCall {
                    try groupCommit.commit(self, devices: []) { transaction in
                        try transaction.deleteObject(volumeID: volume.id!, key: key, removal, now: Date().truncatedToMilliseconds)
                    }
                }
                return (deletion, deletion?.delta)
            }
        }
        guard let deletion else {
            if wasCachedOnly { return nil }  // Written with async durability and never written back.
            if let version { throw .versionNotFound(volume: name, key: key, version: version.description) }
            throw .objectNotFound(volume: name, key: key)
        }
        deferredFree.retire(freedEarly ? [] : deletion.replicas.map(PhysicalRange.init), inline: deletion.inline)
        return (deletion.marker ?? deletion.removed).map(ObjectInfo.init)
    }

    /// The delete marker that hides `key` (its newest version); nil when there is none.
    package func latestDeleteMarker(volume name: String, key: String) throws(EngineError) -> VersionID? {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        guard volume.versioning != .off else { return nil }
        return try catalogCall { try catalog.latestDeleteMarker(volumeID: volume.id!, key: key) }
    }

    /// Every version and delete marker of the volume's keys with `prefix`, by key and newest
    /// first, after `after` (a key, and a version of it: the older versions follow), at most `limit`.
    package func listVersions(
        volume name: String, prefix: String, after: (key: String, version: VersionID?)?, limit: Int
    ) throws(EngineError) -> [ObjectInfo] {
        let volume = try volumeRecord(named: name)
        guard volume.versioning != .off else {
            // One version per key (the null version), which async writes may not have written
            // back yet: the listing that sees them. Past a key is past its only version.
            return try listObjects(volume: name, prefix: prefix, startAfter: after?.key, limit: limit)
        }
        var cursor: (key: String, rowID: Int64?)?
        if let after {
            switch after.version {
            case nil: cursor = (after.key, nil)
            case .some(let version):
                // The null version's place among its key's versions is its row's.
                var rowID = version.rowID
                if rowID == nil {
                    rowID = try catalogCall { try catalog.object(volumeID: volume.id!, key: after.key, version: .null) }?.record.id
                }
                cursor = (after.key, rowID)
            }
        }
        return try catalogCall { try catalog.listVersions(volumeID: volume.id!, prefix: prefix, after: cursor, limit: limit) }.map(ObjectInfo.init)
    }

    /// Objects in key order. Versions accepted with async durability and not yet written back
    /// are listed as clients see them (the cache's size and ETag), not as the catalog has them.
    package func listObjects(volume name: String, prefix: String, startAfter: String?, limit: Int) throws(EngineError) -> [ObjectInfo] {
        let volume = try volumeRecord(named: name)
        // The cache first, then the catalog: a writeback commits to the catalog before it marks its
        // object clean, so a version is in one read or the other. (Catalog first, a version
        // committed between the two reads was in neither, and an acknowledged key went unlisted.)
        let pending = pageCache.pendingVersions(volumeID: volume.id!) { key in
            key.utf8.starts(with: prefix.utf8) && startAfter.map { Self.keyPrecedes($0, key) } ?? true
        }
        let committed = try catalogCall { try catalog.listObjects(volumeID: volume.id!, prefix: prefix, startAfter: startAfter, limit: limit) }
            .map(ObjectInfo.init)
        guard !pending.isEmpty else { return committed }
        // By bytes: String's == would make "\u{E9}" and "e\u{301}" (two keys to the catalog) one.
        var merged = Dictionary(committed.map { (Array($0.key.utf8), $0) }, uniquingKeysWith: { a, _ in a })
        for info in pending { merged[Array(info.key.utf8)] = info }
        let sorted = merged.values.sorted { Self.keyPrecedes($0.key, $1.key) }
        // Keys past the catalog's page may belong to its next page: stop where it stopped.
        let bound = committed.count == limit ? committed.last?.key : nil
        return Array(sorted.filter { bound == nil || !Self.keyPrecedes(bound!, $0.key) }.prefix(limit))
    }

    /// Key order is byte order of the UTF-8 (as SQLite compares TEXT).
    package static func keyPrecedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

extension String {
    /// Byte equality, as the catalog compares keys (its index of keys' latest rows): `==` on Strings uses
    /// canonical equivalence, so "caf\u{E9}" and "cafe\u{301}", two objects, would be one.
    package func sameBytes(as other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        return utf8.withContiguousStorageIfAvailable { mine in
            other.utf8.withContiguousStorageIfAvailable { theirs in
                mine.count == 0 || memcmp(mine.baseAddress!, theirs.baseAddress!, mine.count) == 0
            }
        }.flatMap { $0 } ?? utf8.elementsEqual(other.utf8)
    }
}
