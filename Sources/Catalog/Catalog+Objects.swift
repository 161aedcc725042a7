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
}

/// An extent written to disk and ready to be recorded.
package struct NewExtent: Sendable, Equatable {
    package var logicalOffset: Int64
    package var length: Int64
    package var checksumBlock: Int64
    package var checksums: Data
    /// (device id, physical offset, allocated length) per replica.
    package var replicas: [(deviceID: String, offset: Int64, length: Int64)]

    package init(logicalOffset: Int64, length: Int64, checksumBlock: Int64, checksums: Data, replicas: [(deviceID: String, offset: Int64, length: Int64)]) {
        self.logicalOffset = logicalOffset
        self.length = length
        self.checksumBlock = checksumBlock
        self.checksums = checksums
        self.replicas = replicas
    }

    package static func == (a: NewExtent, b: NewExtent) -> Bool {
        a.logicalOffset == b.logicalOffset && a.length == b.length && a.checksums == b.checksums
            && a.replicas.map { "\($0.deviceID)@\($0.offset)+\($0.length)" } == b.replicas.map { "\($0.deviceID)@\($0.offset)+\($0.length)" }
    }
}

package struct ObjectVersion: Sendable {
    package var volumeID: Int64
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?

    package init(volumeID: Int64, key: String, size: Int64, etag: String, contentType: String?) {
        self.volumeID = volumeID
        self.key = key
        self.size = size
        self.etag = etag
        self.contentType = contentType
    }
}

extension Catalog {
    package func object(volumeID: Int64, key: String) throws(CatalogError) -> StoredObject? {
        try read { db in try Self.object(db, volumeID: volumeID, key: key) }
    }

    static func object(_ db: Database, volumeID: Int64, key: String) throws -> StoredObject? {
        guard let record = try ObjectRecord.filter(Column("volumeId") == volumeID && Column("key") == key).fetchOne(db) else {
            return nil
        }
        let extents = try ExtentRecord.filter(Column("objectId") == record.id!).order(Column("logicalOffset")).fetchAll(db)
        let replicas = try ExtentReplicaRecord.fetchAll(db, sql: """
            SELECT r.* FROM extent_replicas r JOIN extents e ON e.id = r.extentId
            WHERE e.objectId = ? ORDER BY r.extentId, r.deviceId
            """, arguments: [record.id!])
        let byExtent = Dictionary(grouping: replicas, by: \.extentId)
        return StoredObject(record: record, extents: extents.map { StoredExtent(record: $0, replicas: byExtent[$0.id!] ?? []) })
    }

    /// Records a new version of `version.key` in one transaction, replacing the old one. `validate`
    /// sees the volume (with usage) and the version being replaced, inside the transaction.
    /// Returns the new object and the replaced version's replicas (free them after this returns).
    package func commitObject(
        _ version: ObjectVersion, extents: [NewExtent], now: Date,
        validate: (VolumeWithUsage, _ replacing: ObjectRecord?) throws -> Void
    ) throws -> (object: StoredObject, replaced: [ExtentReplicaRecord]) {
        try write { db in
            guard let volumeRecord = try VolumeRecord.fetchOne(db, key: version.volumeID) else {
                throw CatalogError.notFound("volume \(version.volumeID)")
            }
            let usage = try Self.volumeUsages(db, volumeId: version.volumeID)[version.volumeID] ?? .zero
            var replaced: [ExtentReplicaRecord] = []
            let existing = try Self.object(db, volumeID: version.volumeID, key: version.key)
            try validate(VolumeWithUsage(record: volumeRecord, usage: usage), existing?.record)
            if let existing {
                replaced = existing.extents.flatMap(\.replicas)
                try existing.record.delete(db)
            }
            var object = ObjectRecord(
                id: nil, volumeId: version.volumeID, key: version.key, size: version.size, etag: version.etag,
                contentType: version.contentType, createdAt: existing?.record.createdAt ?? now, modifiedAt: now)
            try object.insert(db)
            for extent in extents {
                var record = ExtentRecord(
                    id: nil, objectId: object.id!, logicalOffset: extent.logicalOffset, length: extent.length,
                    checksumBlock: extent.checksumBlock, checksums: extent.checksums)
                try record.insert(db)
                for replica in extent.replicas {
                    try ExtentReplicaRecord(extentId: record.id!, deviceId: replica.deviceID, physicalOffset: replica.offset, length: replica.length)
                        .insert(db)
                }
            }
            return (try Self.object(db, volumeID: version.volumeID, key: version.key)!, replaced)
        }
    }

    /// Deletes an object; returns its replicas to free, or nil when there was no such object.
    package func deleteObject(volumeID: Int64, key: String) throws(CatalogError) -> [ExtentReplicaRecord]? {
        do {
            return try write { db in
                guard let existing = try Self.object(db, volumeID: volumeID, key: key) else { return nil }
                try existing.record.delete(db)
                return existing.extents.flatMap(\.replicas)
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Objects of a volume in key (byte) order, after `startAfter`, with `prefix`, at most `limit`.
    package func listObjects(volumeID: Int64, prefix: String, startAfter: String?, limit: Int) throws(CatalogError) -> [ObjectRecord] {
        try read { db in
            var request = ObjectRecord.filter(Column("volumeId") == volumeID)
            if !prefix.isEmpty {
                request = request.filter(sql: "substr(key, 1, length(?)) = ?", arguments: [prefix, prefix])
                    .filter(Column("key") >= prefix)
            }
            if let startAfter { request = request.filter(Column("key") > startAfter) }
            return try request.order(Column("key")).limit(limit).fetchAll(db)
        }
    }

    /// Every allocated replica, for rebuilding free space at start.
    package func allExtentReplicas() throws(CatalogError) -> [ExtentReplicaRecord] {
        try read { db in try ExtentReplicaRecord.fetchAll(db) }
    }
}
