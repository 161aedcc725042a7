// What scrub, read repair and drain ask of the catalog: object extents in a stable order, the
// extent a physical copy belongs to, and moving one copy to a new place (the copy-on-write
// commit of a repair) only if it is still where it was read.
import GRDB

/// One extent of an object with every copy, and whose it is.
package struct RepairItem: Sendable, Equatable {
    package var volumeName: String
    package var key: String
    package var extent: StoredExtent
}

extension Catalog {
    /// Up to `limit` ids of object extents above `afterID`, in order (a walk that survives
    /// concurrent changes: new extents come later, gone ones are skipped).
    package func objectExtentIDs(afterID: Int64, limit: Int) throws(CatalogError) -> [Int64] {
        try read { db in try Int64.fetchAll(db, sql: "SELECT id FROM extents WHERE id > ? ORDER BY id LIMIT ?", arguments: [afterID, limit]) }
    }

    /// Bytes of every copy of every object extent (what a scrub reads).
    package func objectCopyBytes() throws(CatalogError) -> Int64 {
        try read { db in try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(length), 0) FROM extent_replicas") ?? 0 }
    }

    /// The extent with `extentID` as it is now; nil when it is gone.
    package func repairItem(extentID: Int64) throws(CatalogError) -> RepairItem? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT v.name AS volume, o.key AS key FROM extents e
                JOIN objects o ON o.id = e.objectId JOIN volumes v ON v.id = o.volumeId WHERE e.id = ?
                """, arguments: [extentID])
            else { return nil }
            return try Self.repairItem(db, extentID: extentID, volume: row["volume"], key: row["key"])
        }
    }

    /// The extent holding the copy at `physicalOffset` on `deviceID`; nil when none does.
    package func extentID(deviceID: String, physicalOffset: Int64) throws(CatalogError) -> Int64? {
        try read { db in
            try Int64.fetchOne(db, sql: "SELECT extentId FROM extent_replicas WHERE deviceId = ? AND physicalOffset = ?", arguments: [deviceID, physicalOffset])
        }
    }

    /// Ids of the object extents with a copy on `deviceID` (a drain's work list), in id order.
    package func extentIDs(onDevice deviceID: String, afterID: Int64, limit: Int) throws(CatalogError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(db, sql: "SELECT extentId FROM extent_replicas WHERE deviceId = ? AND extentId > ? ORDER BY extentId LIMIT ?", arguments: [deviceID, afterID, limit])
        }
    }

    /// Objects with an extent whose only copies are on `deviceIDs` (what losing those devices
    /// loses): up to `limit` of them, and how many bytes of extents in all.
    package func soleCopies(onDevices deviceIDs: Set<String>, limit: Int) throws(CatalogError) -> (objects: [String], bytes: Int64) {
        guard !deviceIDs.isEmpty else { return ([], 0) }
        let marks = Array(repeating: "?", count: deviceIDs.count).joined(separator: ", ")
        let ids = Array(deviceIDs)
        return try read { db in
            let lost = """
                SELECT e.id AS id, e.length AS length, v.name || '/' || o.key AS object FROM extents e
                JOIN objects o ON o.id = e.objectId JOIN volumes v ON v.id = o.volumeId
                WHERE NOT EXISTS (SELECT 1 FROM extent_replicas r WHERE r.extentId = e.id AND r.deviceId NOT IN (\(marks)))
                """
            let objects = try String.fetchAll(db, sql: "SELECT DISTINCT object FROM (\(lost)) ORDER BY object LIMIT ?", arguments: StatementArguments(ids + [limit]))
            let bytes = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(length), 0) FROM (\(lost))", arguments: StatementArguments(ids)) ?? 0
            return (objects, bytes)
        }
    }

    /// Moves the copy of `extentID` at `from` to `to`, if it is still there (an overwrite or a
    /// delete may have dropped the extent meanwhile). Returns whether it moved.
    package func moveReplica(
        extentID: Int64, from: (deviceID: String, offset: Int64), to: (deviceID: String, offset: Int64, length: Int64)
    ) throws(CatalogError) -> Bool {
        do {
            return try write { db in
                try db.execute(sql: """
                    UPDATE extent_replicas SET deviceId = ?, physicalOffset = ?, length = ?
                    WHERE extentId = ? AND deviceId = ? AND physicalOffset = ?
                    """, arguments: [to.deviceID, to.offset, to.length, extentID, from.deviceID, from.offset])
                return db.changesCount == 1
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    private static func repairItem(_ db: Database, extentID: Int64, volume: String, key: String) throws -> RepairItem? {
        guard let extent = try ExtentRecord.fetchOne(db, key: extentID) else { return nil }
        let replicas = try ExtentReplicaRecord.fetchAll(db, sql: "SELECT * FROM extent_replicas WHERE extentId = ? ORDER BY deviceId", arguments: [extentID])
        return RepairItem(volumeName: volume, key: key, extent: StoredExtent(record: extent, replicas: replicas))
    }
}
