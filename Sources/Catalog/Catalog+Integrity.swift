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
}
