// Objects and their extents: look up a version, commit a new version (copy-on-write: the old
// version's extents are returned to the caller to free after the commit), delete, list.
package import Foundation
import GRDB

package struct StoredExtent: Sendable, Equatable {
    package var record: ExtentRecord
    package var replicas: [ExtentReplicaRecord]
}

package struct StoredObject: Sendable, Equatable {
    package var record: ObjectRecord
    /// Sorted by logical offset.
    package var extents: [StoredExtent]
    /// Its bytes are read by more than this row: it borrows them (`dataRow`), or copies borrow
    /// them from it (`Catalog+Copies.swift`). A splice over its extents would change the others.
    package var shared = false
}

/// An extent written to disk and ready to be recorded.
package struct NewExtent: Sendable, Equatable {
    package var logicalOffset: Int64
    package var length: Int64
    package var checksumBlock: Int64
    package var checksums: Data
    /// (device id, physical offset, allocated length) per replica; none for an inline extent.
    package var replicas: [(deviceID: String, offset: Int64, length: Int64)]
    /// The bytes of an inline extent, kept in its row.
    package var body: Data?

    package init(
        logicalOffset: Int64, length: Int64, checksumBlock: Int64, checksums: Data, replicas: [(deviceID: String, offset: Int64, length: Int64)],
        body: Data? = nil
    ) {
        self.body = body
        self.logicalOffset = logicalOffset
        self.length = length
        self.checksumBlock = checksumBlock
        self.checksums = checksums
        self.replicas = replicas
    }

    package static func == (a: NewExtent, b: NewExtent) -> Bool {
        a.logicalOffset == b.logicalOffset && a.length == b.length && a.checksums == b.checksums && a.body == b.body
            && a.replicas.map { "\($0.deviceID)@\($0.offset)+\($0.length)" } == b.replicas.map { "\($0.deviceID)@\($0.offset)+\($0.length)" }
    }
}

/// What committing a version did: the new object, the replaced version's replicas (to free once
/// the commit is durable), its inline extents whose bytes `RetiredBodies` keeps for its readers
/// (to release with the replicas), and the change in the volume's figures.
package struct ObjectCommit: Sendable {
    package var object: StoredObject
    package var replaced: [ExtentReplicaRecord]
    package var replacedInline: [Int64]
    package var delta: UsageDelta
}

package struct ObjectDeletion: Sendable {
    /// The row deleted (nil when a delete marker was only added).
    package var removed: ObjectRecord?
    /// The delete marker added (nil when a row was deleted).
    package var marker: ObjectRecord?
    package var replicas: [ExtentReplicaRecord]
    /// Its inline extents, kept in `RetiredBodies` for its readers.
    package var inline: [Int64]
    package var delta: UsageDelta
}

package struct ObjectVersion: Sendable {
    package var volumeID: Int64
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?
    package var attributes: ObjectAttributes
    /// A version with an id of its own, kept beside the ones before it (versioning enabled);
    /// false: the null version, which replaces the key's null version (versioning off or suspended).
    package var versioned: Bool

    package init(
        volumeID: Int64, key: String, size: Int64, etag: String, contentType: String?, attributes: ObjectAttributes = .none, versioned: Bool = false
    ) {
        self.versioned = versioned
        self.attributes = attributes
        self.volumeID = volumeID
        self.key = key
        self.size = size
        self.etag = etag
        self.contentType = contentType
    }
}

extension Catalog {
    /// One statement, so one snapshot: read without a transaction around it (a read transaction's
    /// BEGIN and COMMIT, and two more statements, were half of loading a small object's row).
    package func object(volumeID: Int64, key: String) throws(CatalogError) -> StoredObject? {
        try readOneStatement { db in try Self.object(db, volumeID: volumeID, key: key) }
    }

    /// `object(volumeID:key:)` for the page cache's loads of a key: on the key reader's connection
    /// of its own, one load at a time (a caller waits for the load under way).
    package func loadObject(volumeID: Int64, key: String) throws(CatalogError) -> StoredObject? {
        guard let keyReader else { return try object(volumeID: volumeID, key: key) }
        do {
            return try keyReader.object(volumeID: volumeID, key: key)
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// The object's row, its extents and their replicas in one statement: a row per replica (or
    /// per extent without replicas, an inline one; one row with no extent for an empty object).
    static let objectSQL = """
        SELECT o.id, o.volumeId, o.key, o.size, o.etag, o.contentType, o.createdAt, o.modifiedAt, o.metadata, o.checksums,
            e.id, e.objectId, e.logicalOffset, e.length, e.checksumBlock, e.checksums, e.body,
            r.extentId, r.deviceId, r.physicalOffset, r.length, o.parts, o.versioned, o.latest, o.deleteMarker, o.bornEpoch, o.diedEpoch,
            o.dataRow, o.dataRow IS NOT NULL OR EXISTS (SELECT 1 FROM objects b WHERE b.dataRow = o.id)
        FROM objects o LEFT JOIN extents e ON e.objectId = COALESCE(o.dataRow, o.id) LEFT JOIN extent_replicas r ON r.extentId = e.id
        WHERE o.volumeId = ? AND o.key = ? AND o.latest = 1 AND o.deleteMarker = 0
        ORDER BY e.logicalOffset, e.id, r.deviceId
        """
    /// `objectSQL` for one version of a key: a versioned row by its id, or the null version, the
    /// latest row or an older one (each on the partial index that holds it). Rows kept only for
    /// snapshots are no versions.
    static let versionSQL = objectSQL.replacingOccurrences(
        of: "o.latest = 1 AND o.deleteMarker = 0", with: "o.versioned = 1 AND o.id = ? AND o.diedEpoch IS NULL")
    static let nullVersionSQL = [
        objectSQL.replacingOccurrences(of: "o.latest = 1 AND o.deleteMarker = 0", with: "o.latest = 1 AND o.versioned = 0"),
        objectSQL.replacingOccurrences(
            of: "o.latest = 1 AND o.deleteMarker = 0", with: "o.latest = 0 AND o.diedEpoch IS NULL AND o.versioned = 0"),
    ]
    /// `objectSQL` for any row by its id (one a snapshot sees).
    static let rowSQL = objectSQL.replacingOccurrences(of: "o.volumeId = ? AND o.key = ? AND o.latest = 1 AND o.deleteMarker = 0", with: "o.id = ?")
    /// One version of a key (a delete marker too); nil when the key has no such version.
    package func object(volumeID: Int64, key: String, version: VersionID) throws(CatalogError) -> StoredObject? {
        try readOneStatement { db in try Self.object(db, volumeID: volumeID, key: key, version: version) }
    }

    static func object(_ db: Database, volumeID: Int64, key: String, version: VersionID) throws -> StoredObject? {
        var stored: StoredObject?
        if let rowID = version.rowID {
            try db.cachedStatement(sql: versionSQL).forEachRawRow(arguments: [volumeID, key, rowID]) { row in try add(row, to: &stored) }
        } else {
            for sql in nullVersionSQL where stored == nil {
                try db.cachedStatement(sql: sql).forEachRawRow(arguments: [volumeID, key]) { row in try add(row, to: &stored) }
            }
        }
        return stored
    }

    /// The delete marker that is the key's newest row (it hides the key's versions); nil when
    /// the key's newest row is an object, or it has none.
    package func latestDeleteMarker(volumeID: Int64, key: String) throws(CatalogError) -> VersionID? {
        try readOneStatement { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT id, versioned FROM objects WHERE volumeId = ? AND key = ? AND latest = 1 AND deleteMarker = 1"),
                arguments: [volumeID, key]
            ).map { VersionID(rowID: ($0["versioned"] as Bool) ? $0["id"] : nil) }
        }
    }

    static func object(_ db: Database, volumeID: Int64, key: String) throws -> StoredObject? {
        // A cached statement: prepared (and authorized) once per connection, not built from the
        // query interface on every call (a third of a small PUT's CPU). Its columns are read by
        // position off SQLite's statement (RawRows.swift): a row adapter's layout, or GRDB's
        // column-name index, made per fetch, cost more than the query.
        var stored: StoredObject?
        try db.cachedStatement(sql: objectSQL).forEachRawRow(arguments: [volumeID, key]) { row in try add(row, to: &stored) }
        return stored
    }

    /// One row of `objectSQL` added to the object it describes (the first row makes it).
    static func add(_ row: RawRow, to stored: inout StoredObject?) throws {
        if stored == nil {
            stored = StoredObject(record: try objectRecord(row), extents: [])
            stored!.record.parts = row.optionalString(21)
            (stored!.record.versioned, stored!.record.latest, stored!.record.deleteMarker) =
                (row.int64(22) != 0, row.int64(23) != 0, row.int64(24) != 0)
            (stored!.record.bornEpoch, stored!.record.diedEpoch) = (row.int64(25), row.isNull(26) ? nil : row.int64(26))
            stored!.record.dataRow = row.isNull(27) ? nil : row.int64(27)
            stored!.shared = row.int64(28) != 0
        }
        guard !row.isNull(10) else { return }  // an empty object: no extent
        let extentID = row.int64(10)
        if stored!.extents.last?.record.id != extentID {
            let extent = ExtentRecord(
                id: extentID, objectId: row.int64(11), logicalOffset: row.int64(12), length: row.int64(13),
                checksumBlock: row.int64(14), checksums: row.data(15), body: row.optionalData(16))
            stored!.extents.append(StoredExtent(record: extent, replicas: []))
        }
        guard !row.isNull(17) else { return }  // an inline extent: no replica
        let replica = ExtentReplicaRecord(extentId: row.int64(17), deviceId: row.string(18), physicalOffset: row.int64(19), length: row.int64(20))
        stored!.extents[stored!.extents.count - 1].replicas.append(replica)
    }

    /// An object row from the first ten columns of a raw row, in the `objects` table's order.
    static func objectRecord(_ row: RawRow) throws -> ObjectRecord {
        ObjectRecord(
            id: row.int64(0), volumeId: row.int64(1), key: row.string(2), size: row.int64(3), etag: row.string(4),
            contentType: row.optionalString(5), createdAt: try row.date(6), modifiedAt: try row.date(7),
            metadata: row.optionalString(8), checksums: row.optionalString(9))
    }

    /// Records a new version of `version.key` in one transaction, replacing the old one. `validate`
    /// sees the version being replaced, inside the transaction (the volume must exist). Returns the new
    /// object, the replaced version's replicas (free them after this returns) and what the
    /// commit changed in the volume's figures.
    package func commitObject(
        _ version: ObjectVersion, extents: [NewExtent], now: Date,
        validate: (_ replacing: ObjectRecord?) throws -> Void
    ) throws -> ObjectCommit {
        try write { db in try Self.commitObject(db, Retiring(nil), version, extents: extents, now: now, validate: validate) }
    }

    static func commitObject(
        _ db: Database, _ retiring: Retiring, _ version: ObjectVersion, extents: [NewExtent], now: Date,
        validate: (_ replacing: ObjectRecord?) throws -> Void
    ) throws -> ObjectCommit {
        guard let epochs = try VolumeEpochs.fetch(db, volumeID: version.volumeID) else { throw CatalogError.notFound("volume \(version.volumeID)") }
        var delta = UsageDelta(volumeID: version.volumeID)
        var replaced: [ExtentReplicaRecord] = []
        var replacedInline: [Int64] = []
        let existing = try Self.object(db, volumeID: version.volumeID, key: version.key)
        try validate(existing?.record)
        (replaced, replacedInline) = try supersede(
            db, retiring, epochs, volumeID: version.volumeID, key: version.key, versioned: version.versioned, current: existing, delta: &delta)
        // A null version that replaces the null version keeps its creation time.
        let created = !version.versioned && existing?.record.versioned == false ? existing!.record.createdAt : now
        var object = ObjectRecord(
            id: nil, volumeId: version.volumeID, key: version.key, size: version.size, etag: version.etag,
            contentType: version.contentType, createdAt: created, modifiedAt: now,
            metadata: version.attributes.storedMetadata, checksums: version.attributes.storedChecksums, parts: version.attributes.storedParts)
        object.versioned = version.versioned
        object.bornEpoch = epochs.current
        try insertObjectRow(db, &object)
        var stored = StoredObject(record: object, extents: [])
        let insertExtent = try db.cachedStatement(
            sql: """
                INSERT INTO extents (objectId, logicalOffset, length, checksumBlock, checksums, body) VALUES (?, ?, ?, ?, ?, ?)
                """)
        let insertReplica = try db.cachedStatement(
            sql: """
                INSERT INTO extent_replicas (extentId, deviceId, physicalOffset, length) VALUES (?, ?, ?, ?)
                """)
        for extent in extents {
            var record = ExtentRecord(
                id: nil, objectId: object.id!, logicalOffset: extent.logicalOffset, length: extent.length,
                checksumBlock: extent.checksumBlock, checksums: extent.checksums, body: extent.body)
            try insertExtent.execute(arguments: [
                record.objectId, record.logicalOffset, record.length, record.checksumBlock, record.checksums, record.body,
            ])
            record.id = db.lastInsertedRowID
            var replicas: [ExtentReplicaRecord] = []
            for replica in extent.replicas {
                let row = ExtentReplicaRecord(
                    extentId: record.id!, deviceId: replica.deviceID, physicalOffset: replica.offset, length: replica.length)
                try insertReplica.execute(arguments: [row.extentId, row.deviceId, row.physicalOffset, row.length])
                replicas.append(row)
            }
            stored.extents.append(StoredExtent(record: record, replicas: replicas.sorted { $0.deviceId < $1.deviceId }))
        }
        stored.extents.sort { $0.record.logicalOffset < $1.record.logicalOffset }
        delta.add(object, replicas: stored.extents.flatMap(\.replicas))
        return ObjectCommit(object: stored, replaced: replaced, replacedInline: replacedInline, delta: delta)
    }

    /// The bytes of the inline extent `extentID`: from its row, or, when a change has deleted the
    /// row since it was looked up, from `RetiredBodies` while its readers may want them; nil when
    /// neither has them (or it is not inline).
    package func inlineBody(extentID: Int64) throws(CatalogError) -> Data? {
        let row = try read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT body FROM extents WHERE id = ?"), arguments: [extentID])
        }
        return row ?? retiredBodies.body(extentID)
    }

    #if TEST_HOOKS
        /// Overwrites an inline extent's bytes behind its checksums, as a bug writing the catalog
        /// would (tests of the read path's and scrub's verification).
        package func overwriteInlineBody(extentID: Int64, with body: Data) throws(CatalogError) {
            do {
                try write { db in try db.execute(sql: "UPDATE extents SET body = ? WHERE id = ?", arguments: [body, extentID]) }
            } catch {
                throw CatalogError.wrap(error)
            }
        }
    #endif

    /// Inserts an object row (its id is set).
    static func insertObjectRow(_ db: Database, _ object: inout ObjectRecord) throws {
        let created = StoredDate.text(object.createdAt)
        let modified = object.modifiedAt == object.createdAt ? created : StoredDate.text(object.modifiedAt)
        try db.cachedStatement(
            sql: """
                INSERT INTO objects (volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, parts,
                    versioned, latest, deleteMarker, bornEpoch, dataRow)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            object.volumeId, object.key, object.size, object.etag, object.contentType, created, modified, object.metadata,
            object.checksums, object.parts, object.versioned, object.latest, object.deleteMarker, object.bornEpoch, object.dataRow,
        ])
        object.id = db.lastInsertedRowID
    }

    /// Deletes an object, a version, or hides the object behind a delete marker (`removal`);
    /// returns what went (its replicas to free) and the change in the volume's figures, or nil
    /// when there was nothing to delete.
    package func deleteObject(
        volumeID: Int64, key: String, _ removal: ObjectRemoval = .current, now: Date = Date()
    ) throws(CatalogError) -> ObjectDeletion? {
        do {
            return try write { db in try Self.deleteObject(db, Retiring(nil), volumeID: volumeID, key: key, removal, now: now) }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    static func deleteObject(
        _ db: Database, _ retiring: Retiring, volumeID: Int64, key: String, _ removal: ObjectRemoval, now: Date
    ) throws -> ObjectDeletion? {
        var delta = UsageDelta(volumeID: volumeID)
        guard let epochs = try VolumeEpochs.fetch(db, volumeID: volumeID) else { return nil }
        switch removal {
        case .current, .version:
            let found =
                if case .version(let id) = removal { try object(db, volumeID: volumeID, key: key, version: id) } else {
                    try object(db, volumeID: volumeID, key: key)
                }
            guard let found else { return nil }
            let (replicas, inline) = try removeRow(db, retiring, epochs, found, delta: &delta)
            return ObjectDeletion(removed: found.record, marker: nil, replicas: replicas, inline: inline, delta: delta)
        case .marker(let versioned, let ifCurrent):
            let current = try object(db, volumeID: volumeID, key: key)
            if ifCurrent, current == nil { return nil }
            let (replicas, inline) = try supersede(
                db, retiring, epochs, volumeID: volumeID, key: key, versioned: versioned, current: current, delta: &delta)
            var marker = ObjectRecord(id: nil, volumeId: volumeID, key: key, size: 0, etag: "", contentType: nil, createdAt: now, modifiedAt: now)
            (marker.versioned, marker.deleteMarker, marker.bornEpoch) = (versioned, true, epochs.current)
            try insertObjectRow(db, &marker)
            delta.add(marker, replicas: [])
            return ObjectDeletion(removed: nil, marker: marker, replicas: replicas, inline: inline, delta: delta)
        }
    }

    /// Makes way for a new newest row of `key` (`current`: its current object, as just read): a
    /// null version (`versioned` false) replaces the key's null version, whichever row it is, so
    /// that row is deleted; the newest row left is the latest no more (it stays, a noncurrent
    /// version). Returns the deleted row's replicas and inline extents (held for its readers).
    /// Without versions (the current object is the null version) no statement is added to the
    /// commit; a key with no current object costs one probe of the latest rows' index. A row
    /// deleted that a snapshot sees is kept for it (`removeRow`).
    static func supersede(
        _ db: Database, _ retiring: Retiring, _ epochs: VolumeEpochs, volumeID: Int64, key: String, versioned: Bool, current: StoredObject?,
        delta: inout UsageDelta
    ) throws -> (replicas: [ExtentReplicaRecord], inline: [Int64]) {
        if let current, !current.record.versioned {
            if !versioned { return try removeRow(db, retiring, epochs, current, delta: &delta, promote: false) }
            try archive(
                db, id: current.record.id!, size: current.record.size, deleteMarker: false, borrowed: current.record.dataRow != nil, delta: &delta)
            return ([], [])
        }
        let latest = try Row.fetchOne(
            db.cachedStatement(
                sql: "SELECT id, size, deleteMarker, dataRow IS NOT NULL AS borrowed FROM objects WHERE volumeId = ? AND key = ? AND latest = 1"),
            arguments: [volumeID, key])
        guard let latest else { return ([], []) }  // The key has no row at all.
        var freed: (replicas: [ExtentReplicaRecord], inline: [Int64]) = ([], [])
        if !versioned, let null = try object(db, volumeID: volumeID, key: key, version: .null) {
            freed = try removeRow(db, retiring, epochs, null, delta: &delta, promote: false)
            if null.record.id == latest["id"] { return freed }
        }
        try archive(db, id: latest["id"], size: latest["size"], deleteMarker: latest["deleteMarker"], borrowed: latest["borrowed"], delta: &delta)
        return freed
    }

    /// The key's latest row becomes a noncurrent version.
    static func archive(_ db: Database, id: Int64, size: Int64, deleteMarker: Bool, borrowed: Bool, delta: inout UsageDelta) throws {
        try db.cachedStatement(sql: "UPDATE objects SET latest = 0 WHERE id = ?").execute(arguments: [id])
        delta.archive(size: borrowed ? 0 : size, deleteMarker: deleteMarker)
    }

    /// Deletes one row; when it was the key's latest, the newest row left becomes the latest
    /// (`promote`). Returns its replicas and inline extents (held for its readers). A row a
    /// snapshot sees is kept for the snapshots instead, with the epoch it died in: nothing to free.
    /// A row whose bytes copies read leaves them to one of the copies first (`bequeath`).
    static func removeRow(
        _ db: Database, _ retiring: Retiring, _ epochs: VolumeEpochs, _ stored: StoredObject, delta: inout UsageDelta, promote: Bool = true
    ) throws -> (replicas: [ExtentReplicaRecord], inline: [Int64]) {
        var (replicas, inline): ([ExtentReplicaRecord], [Int64]) = ([], [])
        var record = stored.record
        if record.dataRow == nil, let heir = try bequeath(db, record, delta: &delta) {
            record.dataRow = heir  // Copies read its bytes: one of them owns them now.
        }
        if epochs.snapshotSees(record) {
            try db.cachedStatement(sql: "UPDATE objects SET latest = 0, diedEpoch = ? WHERE id = ?").execute(arguments: [
                epochs.current, record.id!,
            ])
            delta.keepForSnapshots(record)
        } else if record.dataRow != nil {
            // A row that borrows its bytes (a clone's, a copy's): the extents are another row's.
            try deleteObjectRow(db, id: record.id!)
            delta.remove(record, replicas: [])
        } else {
            replicas = stored.extents.flatMap(\.replicas)
            try deleteObjectRow(db, id: record.id!)
            delta.remove(record, replicas: replicas)
            inline = retiring.hold(stored.extents)
        }
        if promote, stored.record.latest {
            let next = try Row.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT id, size, deleteMarker, dataRow IS NOT NULL AS borrowed FROM objects
                        WHERE volumeId = ? AND key = ? AND latest = 0 AND diedEpoch IS NULL ORDER BY id DESC LIMIT 1
                        """),
                arguments: [stored.record.volumeId, stored.record.key])
            if let next {
                try db.cachedStatement(sql: "UPDATE objects SET latest = 1 WHERE id = ?").execute(arguments: [next["id"] as Int64])
                delta.promote(size: (next["borrowed"] as Bool) ? 0 : next["size"], deleteMarker: next["deleteMarker"])
            }
        }
        return (replicas, inline)
    }

    /// Deletes an object row; its extents and their replicas go by cascade.
    static func deleteObjectRow(_ db: Database, id: Int64) throws {
        try db.cachedStatement(sql: "DELETE FROM objects WHERE id = ?").execute(arguments: [id])
    }

    /// Objects of a volume in key (byte) order, after `startAfter`, with `prefix`, at most `limit`.
    /// One statement on the key index, read by position (GRDB's record decoding was a third of a
    /// 1,000-key page); a prefix is a range of the index, `prefix` up to its successor, so a page
    /// reads what it lists, not every key after the prefix.
    package func listObjects(volumeID: Int64, prefix: String, startAfter: String?, limit: Int) throws(CatalogError) -> [ObjectRecord] {
        // One lower bound, the larger (SQLite walks the index from one): past `startAfter`, or
        // from `prefix` when that comes later.
        let after = startAfter ?? ""  // every key is longer than ""
        let fromPrefix = !prefix.isEmpty && after.utf8.lexicographicallyPrecedes(prefix.utf8)
        var sql = "SELECT id, volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, versioned FROM objects"
        sql += fromPrefix ? " WHERE volumeId = ? AND key >= ?" : " WHERE volumeId = ? AND key > ?"
        sql += " AND latest = 1 AND deleteMarker = 0"
        var arguments: StatementArguments = [volumeID, fromPrefix ? prefix : after]
        if let end = Self.successor(ofPrefix: prefix) {
            sql += " AND key < CAST(? AS TEXT)"
            arguments += [end]
        }
        sql += " ORDER BY key LIMIT ?"
        arguments += [limit]
        return try readOneStatement { db in
            var records: [ObjectRecord] = []
            records.reserveCapacity(min(limit, 1024))
            try db.cachedStatement(sql: sql).forEachRawRow(arguments: arguments) { row in
                var record = try Self.objectRecord(row)
                record.versioned = row.int64(10) != 0
                records.append(record)
            }
            return records
        }
    }

    /// Every version and delete marker of a volume's keys with `prefix`, by key (byte order) and
    /// newest first within a key, after `after` (a key, and within it a version's row id: the
    /// versions older than it; nil row id: the keys after it), at most `limit`. With `epoch`: the
    /// rows snapshot `epoch` sees instead (born at or before it, alive after it: live rows and
    /// rows kept for snapshots). The latest rows, the older ones and the kept ones live on
    /// partial indexes of their own: a page of each, merged.
    package func listVersions(
        volumeID: Int64, prefix: String, after: (key: String, rowID: Int64?)?, limit: Int, epoch: Int64? = nil
    ) throws(CatalogError) -> [ObjectRecord] {
        try read { db in try Self.versions(db, volumeID: volumeID, prefix: prefix, after: after, limit: limit, epoch: epoch) }
    }

    static func versions(
        _ db: Database, volumeID: Int64, prefix: String, after: (key: String, rowID: Int64?)?, limit: Int, epoch: Int64?
    ) throws -> [ObjectRecord] {
        var sql = """
            SELECT id, volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, versioned, latest, deleteMarker,
                bornEpoch, diedEpoch
            FROM objects WHERE volumeId = ?
            """
        var arguments: StatementArguments = [volumeID]
        if let epoch {
            sql += " AND bornEpoch <= ?"
            arguments += [epoch]
        }
        if !prefix.isEmpty {
            sql += " AND key >= ?"
            arguments += [prefix]
        }
        if let end = Self.successor(ofPrefix: prefix) {
            sql += " AND key < CAST(? AS TEXT)"
            arguments += [end]
        }
        if let after {
            if let rowID = after.rowID {
                sql += " AND (key > ? OR (key = ? AND id < ?))"
                arguments += [after.key, after.key, rowID]
            } else {
                sql += " AND key > ?"
                arguments += [after.key]
            }
        }
        var sources = [(" AND latest = 1", arguments), (" AND latest = 0 AND diedEpoch IS NULL", arguments)]
        if let epoch { sources.append((" AND diedEpoch IS NOT NULL AND diedEpoch > ?", arguments + [epoch])) }
        do {
            var rows: [ObjectRecord] = []
            for (source, arguments) in sources {
                try db.cachedStatement(sql: sql + source + " ORDER BY key, id DESC LIMIT ?").forEachRawRow(arguments: arguments + [limit]) { row in
                    var record = try Self.objectRecord(row)
                    (record.versioned, record.latest, record.deleteMarker) = (row.int64(10) != 0, row.int64(11) != 0, row.int64(12) != 0)
                    (record.bornEpoch, record.diedEpoch) = (row.int64(13), row.isNull(14) ? nil : row.int64(14))
                    rows.append(record)
                }
            }
            // Merged by key (bytes), then newest first: the first `limit` of the pages.
            rows.sort { a, b in
                a.key.utf8.elementsEqual(b.key.utf8) ? a.id! > b.id! : a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
            }
            return Array(rows.prefix(limit))
        }
    }

    /// The bytes just past every string that starts with `prefix` (its last byte plus one, which
    /// UTF-8 never makes 0xFF), compared as SQLite compares TEXT (by bytes); nil for an empty prefix.
    static func successor(ofPrefix prefix: String) -> Data? {
        var bytes = Array(prefix.utf8)
        guard let last = bytes.last else { return nil }
        bytes[bytes.count - 1] = last + 1
        return Data(bytes)
    }

    /// Every allocated replica (objects' and waiting parts'), for rebuilding free space at start,
    /// `check` and the space audit: read by position, in one read transaction (GRDB's record
    /// decoding of millions of rows was most of a restart at 8 million objects).
    package func allExtentReplicas() throws(CatalogError) -> [ExtentReplicaRecord] {
        try read { db in
            var replicas: [ExtentReplicaRecord] = []
            for table in ["extent_replicas", "part_extent_replicas"] {
                let sql = "SELECT extentId, deviceId, physicalOffset, length FROM \(table)"
                try db.makeStatement(sql: sql).forEachRawRow(arguments: []) { row in
                    replicas.append(
                        ExtentReplicaRecord(extentId: row.int64(0), deviceId: row.string(1), physicalOffset: row.int64(2), length: row.int64(3)))
                }
            }
            return replicas
        }
    }
}

/// What a delete takes away.
package enum ObjectRemoval: Sendable, Equatable {
    /// The current version: its row goes (versioning off: the key's one row).
    case current
    /// A delete marker becomes the key's newest row, hiding the versions before it: a version of
    /// its own (`versioned`: versioning enabled) or the null version (suspended: it replaces the
    /// key's null version). `ifCurrent`: only when the key has a current version.
    case marker(versioned: Bool, ifCurrent: Bool)
    /// One version or delete marker, by id; when it was the newest, the next newest is.
    case version(VersionID)
}
