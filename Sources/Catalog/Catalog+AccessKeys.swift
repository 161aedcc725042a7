// S3 access keys: create, list, read, update, delete. Few rows; the API layer keeps them in memory.
import GRDB

extension Catalog {
    package func insertAccessKey(_ record: AccessKeyRecord) throws(CatalogError) {
        do {
            try write { db in try record.insert(db) }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    package func accessKeys() throws(CatalogError) -> [AccessKeyRecord] {
        try read { db in try AccessKeyRecord.order(Column("createdAt"), Column("id")).fetchAll(db) }
    }

    /// Changes a key in one transaction; `notFound` when there is no such key.
    package func updateAccessKey(id: String, _ change: (inout AccessKeyRecord) throws -> Void) throws -> AccessKeyRecord {
        try write { db in
            guard var record = try AccessKeyRecord.fetchOne(db, key: id) else { throw CatalogError.notFound("access key \(id)") }
            try change(&record)
            try record.update(db)
            return record
        }
    }

    package func deleteAccessKey(id: String) throws(CatalogError) {
        do {
            try write { db in
                guard try AccessKeyRecord.deleteOne(db, key: id) else { throw CatalogError.notFound("access key \(id)") }
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Drops every key's permission on a volume (inside its deletion): a later volume of the same
    /// name starts with none.
    static func forgetVolumePermissions(_ db: Database, name: String) throws {
        for var record in try AccessKeyRecord.fetchAll(db) where record.permissionMap[name] != nil {
            record.permissionMap[name] = nil
            try record.update(db)
        }
    }
}
