// What scrub, read repair and drain ask of the catalog: extents (of objects, and of the parts of
// open multipart uploads) in a stable order, the extent a physical copy belongs to, and moving one
// copy to a new place (the copy-on-write commit of a repair) only if it is still where it was read.
import GRDB

/// Which extents: an object's, or a waiting multipart part's (their own tables until Complete).
package enum ExtentTable: String, Sendable, CaseIterable {
    case objects
    case parts

    var extents: String { self == .objects ? "extents" : "part_extents" }
    var replicas: String { self == .objects ? "extent_replicas" : "part_extent_replicas" }

    /// Extent `e` joined to its volume `v`.
    var owners: String {
        switch self {
        case .objects:
            "extents e JOIN objects o ON o.id = e.objectId JOIN volumes v ON v.id = o.volumeId"
        case .parts:
            """
            part_extents e JOIN multipart_parts p ON p.id = e.partId JOIN multipart_uploads u ON u.id = p.uploadId
            JOIN volumes v ON v.id = u.volumeId
            """
        }
    }

    /// Extent `e` has its bytes on devices (an inline extent's are in its row: no device holds them).
    var onDevices: String { self == .objects ? "e.body IS NULL" : "1" }

    /// What the owner is called: an object's key, or a part's upload key and number.
    var key: String { self == .objects ? "o.key" : "u.key || ' (part ' || p.partNumber || ' of upload ' || u.id || ')'" }
}

/// One extent with every copy, and whose it is.
package struct RepairItem: Sendable, Equatable {
    package var table: ExtentTable
    package var id: Int64
    package var volumeName: String
    package var key: String
    package var extent: StoredExtent
}

extension Catalog {
    /// Up to `limit` ids of `table`'s extents above `afterID`, in order (a walk that survives
    /// concurrent changes: new extents come later, gone ones are skipped).
    package func extentIDs(in table: ExtentTable, afterID: Int64, limit: Int) throws(CatalogError) -> [Int64] {
        try read { db in try Int64.fetchAll(db, sql: "SELECT id FROM \(table.extents) WHERE id > ? ORDER BY id LIMIT ?", arguments: [afterID, limit])
        }
    }

    /// Bytes of every copy of every extent, objects' and parts' (what a scrub reads).
    package func copyBytes() throws(CatalogError) -> Int64 {
        try read { db in
            try Int64.fetchOne(
                db, sql: "SELECT (SELECT COALESCE(SUM(length), 0) FROM extent_replicas) + (SELECT COALESCE(SUM(length), 0) FROM part_extent_replicas)"
            ) ?? 0
        }
    }

    /// The extent `extentID` of `table` as it is now; nil when it is gone.
    package func repairItem(_ table: ExtentTable, extentID: Int64) throws(CatalogError) -> RepairItem? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT v.name AS volume, \(table.key) AS key FROM \(table.owners) WHERE e.id = ?", arguments: [extentID]),
                let record = try Row.fetchOne(db, sql: "SELECT * FROM \(table.extents) WHERE id = ?", arguments: [extentID])
            else { return nil }
            let extent = ExtentRecord(
                id: record["id"], objectId: record[table == .objects ? "objectId" : "partId"], logicalOffset: record["logicalOffset"],
                length: record["length"], checksumBlock: record["checksumBlock"], checksums: record["checksums"],
                body: table == .objects ? record["body"] : nil)
            let replicas = try ExtentReplicaRecord.fetchAll(
                db, sql: "SELECT * FROM \(table.replicas) WHERE extentId = ? ORDER BY deviceId", arguments: [extentID])
            return RepairItem(
                table: table, id: extentID, volumeName: row["volume"], key: row["key"], extent: StoredExtent(record: extent, replicas: replicas))
        }
    }

    /// The extent holding the copy at `physicalOffset` on `deviceID`; nil when none does.
    package func extent(deviceID: String, physicalOffset: Int64) throws(CatalogError) -> (table: ExtentTable, id: Int64)? {
        try read { db in
            for table in ExtentTable.allCases {
                if let id = try Int64.fetchOne(
                    db, sql: "SELECT extentId FROM \(table.replicas) WHERE deviceId = ? AND physicalOffset = ?",
                    arguments: [deviceID, physicalOffset])
                {
                    return (table, id)
                }
            }
            return nil
        }
    }

    /// Ids of `table`'s extents with a copy on `deviceID` (a drain's work list), in id order.
    package func extentIDs(in table: ExtentTable, onDevice deviceID: String, afterID: Int64, limit: Int) throws(CatalogError) -> [Int64] {
        try read { db in
            try Int64.fetchAll(
                db, sql: "SELECT extentId FROM \(table.replicas) WHERE deviceId = ? AND extentId > ? ORDER BY extentId LIMIT ?",
                arguments: [deviceID, afterID, limit])
        }
    }

    /// Objects (and parts) with an extent whose only copies are on `deviceIDs` (what losing those
    /// devices loses): up to `limit` of them, and how many bytes of extents in all.
    package func soleCopies(onDevices deviceIDs: Set<String>, limit: Int) throws(CatalogError) -> (objects: [String], bytes: Int64) {
        guard !deviceIDs.isEmpty else { return ([], 0) }
        let marks = Array(repeating: "?", count: deviceIDs.count).joined(separator: ", ")
        let ids = Array(deviceIDs)
        return try read { db in
            let lost = ExtentTable.allCases.map { table in
                """
                SELECT e.length AS length, v.name || '/' || \(table.key) AS object FROM \(table.owners)
                WHERE \(table.onDevices)
                AND NOT EXISTS (SELECT 1 FROM \(table.replicas) r WHERE r.extentId = e.id AND r.deviceId NOT IN (\(marks)))
                """
            }.joined(separator: " UNION ALL ")
            let arguments = StatementArguments(ids + ids)
            let objects = try String.fetchAll(db, sql: "SELECT DISTINCT object FROM (\(lost)) ORDER BY object LIMIT \(limit)", arguments: arguments)
            let bytes = try Int64.fetchOne(db, sql: "SELECT COALESCE(SUM(length), 0) FROM (\(lost))", arguments: arguments) ?? 0
            return (objects, bytes)
        }
    }

    /// Moves the copy of extent `extentID` of `table` at `from` to `to`, if it is still there (an
    /// overwrite, a delete or a multipart Complete may have dropped or moved the extent meanwhile).
    /// Returns whether it moved.
    package func moveReplica(
        _ table: ExtentTable, extentID: Int64, from: (deviceID: String, offset: Int64), to: (deviceID: String, offset: Int64, length: Int64)
    ) throws(CatalogError) -> Bool {
        do {
            return try write { db in
                try db.execute(
                    sql: """
                        UPDATE \(table.replicas) SET deviceId = ?, physicalOffset = ?, length = ?
                        WHERE extentId = ? AND deviceId = ? AND physicalOffset = ?
                        """, arguments: [to.deviceID, to.offset, to.length, extentID, from.deviceID, from.offset])
                return db.changesCount == 1
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }
}
