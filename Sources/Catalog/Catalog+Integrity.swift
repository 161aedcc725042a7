// The catalog's own consistency, for `appliance check` and the power-cut test: SQLite's
// integrity check, the foreign keys, and the rows that borrow bytes (clones', copies'), which
// must borrow them from a row that owns them.
import GRDB

extension Catalog {
    /// What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` report; empty when both pass.
    package func integrityProblems() throws(CatalogError) -> [String] {
        try read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let foreign = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { row in
                "foreign key: row \(row[1] ?? "?") of \(row[0] ?? "?") names a missing row of \(row[2] ?? "?")"
            }
            let borrowed = try Row.fetchAll(
                db,
                sql: """
                    SELECT b.id, b.dataRow FROM objects b LEFT JOIN objects o ON o.id = b.dataRow
                    WHERE b.dataRow IS NOT NULL AND (o.id IS NULL OR o.dataRow IS NOT NULL)
                    """
            ).map { row in "object row \(row[0] ?? "?") borrows the bytes of row \(row[1] ?? "?"), which does not own them" }
            return integrity + foreign + borrowed
        }
    }

    /// Copies of extents (objects' and parts') that overlap another copy on the same device: two
    /// owners of one physical range. The engine cannot even open such a pool safely (freeing one
    /// would free the other's space), so a tool asks this before opening it.
    package func overlappingCopies() throws(CatalogError) -> [String] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT deviceId, physicalOffset, length, previousEnd FROM (
                        SELECT deviceId, physicalOffset, length,
                            MAX(physicalOffset + length) OVER (
                                PARTITION BY deviceId ORDER BY physicalOffset ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS previousEnd
                        FROM (SELECT deviceId, physicalOffset, length FROM extent_replicas
                              UNION ALL SELECT deviceId, physicalOffset, length FROM part_extent_replicas))
                    WHERE previousEnd > physicalOffset
                    """
            ).map { row in
                let device: String = row[0]
                let offset: Int64 = row[1]
                let length: Int64 = row[2]
                let end: Int64 = row[3]
                return "device \(device.prefix(8)): the copy at \(offset)+\(length) overlaps another ending at \(end)"
            }
        }
    }
}
