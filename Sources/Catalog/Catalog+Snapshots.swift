// Volume snapshots (`SnapshotRecord`): taking one adds its row and moves the volume to the next
// epoch, whatever the volume holds. Changes keep the rows a snapshot sees (`removeRow`); reading
// a snapshot picks, per key, the newest row it sees; deleting one frees the kept rows no snapshot
// left sees, a batch per transaction (`collectUnseen`), resumed at the engine's start.
package import Foundation
import GRDB

/// A volume's epochs as a change reads them inside its transaction: the epoch new rows are born
/// in, and the newest snapshot's (nil: none), which decides whether a row deleted is kept.
package struct VolumeEpochs: Sendable, Equatable {
    package var current: Int64
    package var newestSnapshot: Int64?

    static func fetch(_ db: Database, volumeID: Int64) throws -> VolumeEpochs? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT epoch, snapshotEpoch FROM volumes WHERE id = ?"), arguments: [volumeID]).map {
            VolumeEpochs(current: $0[0], newestSnapshot: $0[1])
        }
    }

    /// Some snapshot sees `row` (every snapshot closed an epoch before the current one, so it
    /// sees a live row born at or before it).
    func snapshotSees(_ row: ObjectRecord) -> Bool { newestSnapshot.map { row.bornEpoch <= $0 } ?? false }
}

/// What a batch of `collectUnseen` freed: the kept rows' replicas (free them after their
/// readers), their inline extents, the change in the volume's figures, and where the next batch
/// starts (nil: none is left).
package struct SnapshotCollection: Sendable {
    package var replicas: [ExtentReplicaRecord] = []
    package var inline: [Int64] = []
    package var delta: UsageDelta
    package var rows = 0
    package var next: (key: String, rowID: Int64)?
}

extension Catalog {
    /// Takes a snapshot of the volume `volumeID` named `name`: O(1), whatever the volume holds.
    /// `duplicate` when the volume has a snapshot of that name.
    package func createSnapshot(volumeID: Int64, name: String, now: Date) throws -> SnapshotRecord {
        try write { db in
            guard let epochs = try VolumeEpochs.fetch(db, volumeID: volumeID) else { throw CatalogError.notFound("volume \(volumeID)") }
            if try Self.snapshot(db, volumeID: volumeID, name: name) != nil { throw CatalogError.duplicate("snapshot \(name)") }
            var snapshot = SnapshotRecord(volumeId: volumeID, name: name, epoch: epochs.current, createdAt: now)
            try snapshot.insert(db)
            try db.execute(
                sql: "UPDATE volumes SET epoch = epoch + 1, snapshotEpoch = ? WHERE id = ?", arguments: [epochs.current, volumeID])
            return snapshot
        }
    }

    /// A volume's snapshots, oldest first.
    package func snapshots(volumeID: Int64) throws(CatalogError) -> [SnapshotRecord] {
        try read { db in try SnapshotRecord.filter(Column("volumeId") == volumeID).order(Column("epoch")).fetchAll(db) }
    }

    package func snapshot(volumeID: Int64, name: String) throws(CatalogError) -> SnapshotRecord? {
        try read { db in try Self.snapshot(db, volumeID: volumeID, name: name) }
    }

    static func snapshot(_ db: Database, volumeID: Int64, name: String) throws -> SnapshotRecord? {
        try SnapshotRecord.filter(Column("volumeId") == volumeID && Column("name") == name).fetchOne(db)
    }

    /// Deletes a snapshot's row (the rows only it saw are freed by `collectUnseen`) once
    /// `validate` approves it, given the names of the volumes cloned from it; nil when the
    /// volume has no snapshot of that name.
    package func deleteSnapshot(
        volumeID: Int64, name: String, validate: (_ clones: [String]) throws -> Void = { _ in }
    ) throws -> SnapshotRecord? {
        try write { db in
            guard let snapshot = try Self.snapshot(db, volumeID: volumeID, name: name) else { return nil }
            try validate(try String.fetchAll(db, sql: "SELECT name FROM volumes WHERE cloneOf = ? ORDER BY name", arguments: [snapshot.id!]))
            _ = try snapshot.delete(db)
            try db.execute(
                sql: "UPDATE volumes SET snapshotEpoch = (SELECT MAX(epoch) FROM snapshots WHERE volumeId = ?) WHERE id = ?",
                arguments: [volumeID, volumeID])
            return snapshot
        }
    }

    /// Deletes up to `limit` rows kept for snapshots that no snapshot sees any more, from `after`
    /// on (key order, newest first within a key), in one transaction.
    package func collectUnseen(volumeID: Int64, after: (key: String, rowID: Int64)?, limit: Int) throws -> SnapshotCollection {
        let retiring = Retiring(retiredBodies)
        do {
            return try collectUnseen(volumeID: volumeID, after: after, limit: limit, retiring)
        } catch {
            retiring.rollBack()
            throw error
        }
    }

    private func collectUnseen(volumeID: Int64, after: (key: String, rowID: Int64)?, limit: Int, _ retiring: Retiring) throws -> SnapshotCollection {
        try write { db in
            var sql = """
                SELECT id FROM objects o WHERE volumeId = ? AND diedEpoch IS NOT NULL
                """
            var arguments: StatementArguments = [volumeID]
            if let after {
                sql += " AND (key > ? OR (key = ? AND id < ?))"
                arguments += [after.key, after.key, after.rowID]
            }
            sql += """
                 AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.volumeId = o.volumeId AND s.epoch >= o.bornEpoch AND s.epoch < o.diedEpoch)
                ORDER BY key, id DESC LIMIT ?
                """
            let ids = try Int64.fetchAll(db, sql: sql, arguments: arguments + [limit])
            var collection = SnapshotCollection(delta: UsageDelta(volumeID: volumeID))
            for id in ids {
                guard let stored = try Self.object(db, rowID: id) else { continue }
                var record = stored.record
                // A row copies borrow from leaves its extents to one of them.
                if record.dataRow == nil, let heir = try Self.bequeath(db, record, delta: &collection.delta) { record.dataRow = heir }
                // A borrowed row frees nothing: the extents are another row's.
                let owned = record.dataRow == nil ? stored.extents : []
                let replicas = owned.flatMap(\.replicas)
                try Self.deleteObjectRow(db, id: id)
                collection.delta.collect(record, replicas: replicas)
                collection.replicas += replicas
                collection.inline += retiring.hold(owned)
                collection.rows += 1
                collection.next = (stored.record.key, id)
            }
            if ids.count < limit { collection.next = nil }
            return collection
        }
    }

    /// The volume's rows kept for snapshots, in key order and newest first, after `after`, at
    /// most `limit` (`appliance check` verifies them like versions).
    package func keptRows(volumeID: Int64, after: (key: String, rowID: Int64)?, limit: Int) throws(CatalogError) -> [ObjectRecord] {
        var sql = "SELECT * FROM objects WHERE volumeId = ? AND diedEpoch IS NOT NULL"
        var arguments: StatementArguments = [volumeID]
        if let after {
            sql += " AND (key > ? OR (key = ? AND id < ?))"
            arguments += [after.key, after.key, after.rowID]
        }
        return try read { db in try ObjectRecord.fetchAll(db, sql: sql + " ORDER BY key, id DESC LIMIT ?", arguments: arguments + [limit]) }
    }

    /// Any row of the objects table by its id, with its extents (a version, or a row kept for snapshots).
    package func object(rowID: Int64) throws(CatalogError) -> StoredObject? {
        try read { db in try Self.object(db, rowID: rowID) }
    }

    static func object(_ db: Database, rowID: Int64) throws -> StoredObject? {
        var stored: StoredObject?
        try db.cachedStatement(sql: rowSQL).forEachRawRow(arguments: [rowID]) { row in try add(row, to: &stored) }
        return stored
    }

    /// Volumes with rows kept for snapshots (where `collectUnseen` may have work left).
    package func volumesKeepingRows() throws(CatalogError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(
                db, sql: "SELECT id FROM volumes v WHERE EXISTS (SELECT 1 FROM objects WHERE volumeId = v.id AND diedEpoch IS NOT NULL) ORDER BY id")
        }
    }

    /// What snapshot `epoch` holds of `key`: the newest row of the key it sees, unless that is a
    /// delete marker; nil when it holds nothing.
    package func object(volumeID: Int64, key: String, epoch: Int64) throws(CatalogError) -> StoredObject? {
        try read { db in
            var newest: (id: Int64, deleteMarker: Bool)?
            for source in ["latest = 1", "latest = 0 AND diedEpoch IS NULL", "diedEpoch IS NOT NULL AND diedEpoch > ?"] {
                let sql = """
                    SELECT id, deleteMarker FROM objects WHERE volumeId = ? AND key = ? AND bornEpoch <= ? AND \(source)
                    ORDER BY id DESC LIMIT 1
                    """
                let arguments: StatementArguments = source.hasSuffix("?") ? [volumeID, key, epoch, epoch] : [volumeID, key, epoch]
                if let row = try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments), row[0] > newest?.id ?? 0 {
                    newest = (row[0], row[1])
                }
            }
            guard let newest, !newest.deleteMarker else { return nil }
            return try Self.object(db, rowID: newest.id)
        }
    }

    /// The objects snapshot `epoch` holds, in key (byte) order after `startAfter`, with `prefix`,
    /// at most `limit`: per key the newest row it sees, delete markers left out.
    package func listObjects(volumeID: Int64, prefix: String, startAfter: String?, limit: Int, epoch: Int64) throws(CatalogError) -> [ObjectRecord] {
        try read { db in try Self.snapshotObjects(db, volumeID: volumeID, prefix: prefix, startAfter: startAfter, limit: limit, epoch: epoch) }
    }

    static func snapshotObjects(
        _ db: Database, volumeID: Int64, prefix: String, startAfter: String?, limit: Int, epoch: Int64
    ) throws -> [ObjectRecord] {
        var objects: [ObjectRecord] = []
        var after: (key: String, rowID: Int64?)? = startAfter.map { ($0, nil) }
        let page = max(limit, 256)
        while objects.count < limit {
            let rows = try versions(db, volumeID: volumeID, prefix: prefix, after: after, limit: page, epoch: epoch)
            var lastKey = after?.key
            for row in rows where row.key != lastKey {
                lastKey = row.key
                if !row.deleteMarker { objects.append(row) }
                if objects.count == limit { break }
            }
            guard rows.count == page, let last = rows.last else { break }
            after = (last.key, last.id)
        }
        return objects
    }
}
