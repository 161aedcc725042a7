// S3 access keys: create, list, read, update, delete. Few rows; the API layer keeps them in memory.
import GRDB

extension Catalog {
    /// Inserts a key. `checkVolumes` gets, in the same transaction, the volumes its permissions
    /// name that do not exist (`*` aside), and throws to refuse them: a permission on a name no
    /// volume has would hand the volume created later under that name to this key.
    package func insertAccessKey(_ record: AccessKeyRecord, checkVolumes: ([String]) throws -> Void = { _ in }) throws {
        try write { db in
            try checkVolumes(try Self.missingVolumes(db, record.permissionMap.keys))
            try record.insert(db)
        }
    }

    package func accessKeys() throws(CatalogError) -> [AccessKeyRecord] {
        try read { db in try AccessKeyRecord.order(Column("createdAt"), Column("id")).fetchAll(db) }
    }

    /// Changes a key in one transaction; `notFound` when there is no such key. `checkVolumes` gets
    /// the volumes the changed permissions name that do not exist, as for `insertAccessKey`.
    package func updateAccessKey(
        id: String, _ change: (inout AccessKeyRecord) throws -> Void, checkVolumes: ([String]) throws -> Void = { _ in }
    ) throws -> AccessKeyRecord {
        try write { db in
            guard var record = try AccessKeyRecord.fetchOne(db, key: id) else { throw CatalogError.notFound("access key \(id)") }
            try change(&record)
            try checkVolumes(try Self.missingVolumes(db, record.permissionMap.keys))
            try record.update(db)
            return record
        }
    }

    /// Drops every permission on a volume that does not exist, in one transaction; returns the
    /// (key id, volume name) pairs dropped.
    package func forgetPermissionsOnMissingVolumes() throws -> [(key: String, volume: String)] {
        try write { db in
            var dropped: [(key: String, volume: String)] = []
            for var record in try AccessKeyRecord.fetchAll(db) {
                let missing = try Self.missingVolumes(db, record.permissionMap.keys)
                if missing.isEmpty { continue }
                var map = record.permissionMap
                for name in missing { map[name] = nil }
                record.permissionMap = map
                try record.update(db)
                dropped += missing.map { (record.id, $0) }
            }
            return dropped
        }
    }

    /// The names among `names` that no volume has, sorted; `*` (every volume) is never missing.
    static func missingVolumes(_ db: Database, _ names: some Sequence<String>) throws -> [String] {
        try names.filter { $0 != "*" }.sorted().filter { try VolumeRecord.filter(VolumeRecord.Columns.name == $0).fetchCount(db) == 0 }
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
