// The catalog's own consistency, for `appliance check` and the power-cut test: SQLite's
// integrity check and the foreign keys.
import GRDB

extension Catalog {
    /// What `PRAGMA integrity_check` and `PRAGMA foreign_key_check` report; empty when both pass.
    package func integrityProblems() throws(CatalogError) -> [String] {
        try read { db in
            let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
            let foreign = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").map { row in
                "foreign key: row \(row[1] ?? "?") of \(row[0] ?? "?") names a missing row of \(row[2] ?? "?")"
            }
            return integrity + foreign
        }
    }
}
