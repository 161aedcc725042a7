// The pool row: created once, on first start.
package import Foundation
import GRDB

extension Catalog {
    package func pool() throws(CatalogError) -> PoolRecord? {
        try read { db in try PoolRecord.fetchOne(db) }
    }

    /// Returns the pool, creating it with `uuid` when the catalog has none yet.
    package func createPoolIfMissing(uuid: String, now: Date) throws(CatalogError) -> PoolRecord {
        do {
            return try write { db in
                if let existing = try PoolRecord.fetchOne(db) { return existing }
                let record = PoolRecord(uuid: uuid, createdAt: now)
                try record.insert(db)
                return record
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Records that the first start's default devices are all added: later starts add none.
    package func markDefaultDevicesAdded(now: Date) throws(CatalogError) {
        do {
            try write { db in
                try db.execute(sql: "UPDATE pool SET defaultDevicesAddedAt = ? WHERE defaultDevicesAddedAt IS NULL", arguments: [now])
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }
}
