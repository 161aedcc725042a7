// Volumes: create, resize, delete; each check-and-change is one transaction.
package import Foundation
import GRDB

/// A volume row with its usage.
package struct VolumeWithUsage: Sendable, Equatable {
    package var record: VolumeRecord
    package var usage: VolumeUsage
    /// The volumes cloned from its snapshots (read only where a deletion decides: `deleteVolume`).
    package var clones: [String] = []

    package init(record: VolumeRecord, usage: VolumeUsage) {
        self.record = record
        self.usage = usage
    }
}

extension Catalog {
    package func volumes() throws(CatalogError) -> [VolumeWithUsage] {
        try read { db in
            let usages = try Self.volumeUsages(db)
            return try VolumeRecord.order(VolumeRecord.Columns.name).fetchAll(db).map {
                VolumeWithUsage(record: $0, usage: usages[$0.id!] ?? .zero)
            }
        }
    }

    /// Every volume's row, by name (no usage figures).
    package func volumeRecords() throws(CatalogError) -> [VolumeRecord] {
        try read { db in try VolumeRecord.order(VolumeRecord.Columns.name).fetchAll(db) }
    }

    /// Just the row (an indexed lookup; no usage figures): the per-request path.
    package func volumeRecord(named name: String) throws(CatalogError) -> VolumeRecord? {
        try read { db in try VolumeRecord.filter(VolumeRecord.Columns.name == name).fetchOne(db) }
    }

    package func volume(named name: String) throws(CatalogError) -> VolumeWithUsage? {
        try read { db in try Self.volume(db, named: name) }
    }

    static func volume(_ db: Database, named name: String) throws -> VolumeWithUsage? {
        guard let record = try VolumeRecord.filter(VolumeRecord.Columns.name == name).fetchOne(db) else { return nil }
        return VolumeWithUsage(record: record, usage: try volumeUsages(db, volumeId: record.id!)[record.id!] ?? .zero)
    }

    /// Inserts a volume after `validate` approves it against the current pool usage.
    /// `duplicate` when the name is taken.
    package func createVolume(
        _ record: VolumeRecord, validate: (PoolUsage) throws -> Void
    ) throws -> VolumeWithUsage {
        try write { db in
            if try VolumeRecord.filter(VolumeRecord.Columns.name == record.name).fetchCount(db) > 0 {
                throw CatalogError.duplicate("volume \(record.name)")
            }
            try validate(try Self.poolUsage(db))
            var record = record
            try record.insert(db)
            return try Self.volume(db, named: record.name)!
        }
    }

    /// Sets a volume's capacity after `validate` approves it, given the volume as it is and the
    /// pool usage as it would be after the change.
    package func resizeVolume(
        named name: String, capacityBytes: Int64, now: Date,
        validate: (VolumeWithUsage, _ poolAfter: PoolUsage) throws -> Void
    ) throws -> VolumeWithUsage {
        try write { db in
            guard var volume = try Self.volume(db, named: name) else { throw CatalogError.notFound("volume \(name)") }
            let before = volume
            volume.record.capacityBytes = capacityBytes
            volume.record.updatedAt = now
            try volume.record.update(db)
            try validate(before, try Self.poolUsage(db))
            return try Self.volume(db, named: name)!
        }
    }

    /// Sets a volume's versioning after `validate` approves the change from the row as it is.
    /// nil when there is no such volume.
    package func setVersioning(
        named name: String, _ versioning: VolumeRecord.Versioning, now: Date, validate: (VolumeRecord) throws -> Void
    ) throws -> VolumeRecord? {
        try write { db in
            guard var record = try VolumeRecord.filter(VolumeRecord.Columns.name == name).fetchOne(db) else { return nil }
            try validate(record)
            guard record.versioning != versioning else { return record }
            record.versioning = versioning
            record.updatedAt = now
            try record.update(db)
            return record
        }
    }

    /// Deletes a volume (and, by cascade, its objects and extents) after `validate` approves it.
    /// Returns the extents' replicas that were dropped so the caller can free their space.
    package func deleteVolume(
        named name: String, validate: (VolumeWithUsage) throws -> Void
    ) throws -> [ExtentReplicaRecord] {
        try write { db in
            guard var volume = try Self.volume(db, named: name) else { throw CatalogError.notFound("volume \(name)") }
            volume.clones = try String.fetchAll(
                db, sql: "SELECT c.name FROM volumes c JOIN snapshots s ON s.id = c.cloneOf WHERE s.volumeId = ? ORDER BY c.name",
                arguments: [volume.record.id!])
            try validate(volume)
            let freed = try ExtentReplicaRecord.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM extent_replicas r JOIN extents e ON e.id = r.extentId
                    JOIN objects o ON o.id = e.objectId WHERE o.volumeId = ?
                    UNION ALL
                    SELECT r.* FROM part_extent_replicas r JOIN part_extents e ON e.id = r.extentId
                    JOIN multipart_parts p ON p.id = e.partId JOIN multipart_uploads u ON u.id = p.uploadId WHERE u.volumeId = ?
                    """, arguments: [volume.record.id!, volume.record.id!])
            try volume.record.delete(db)
            try Self.forgetVolumePermissions(db, name: name)
            return freed
        }
    }
}

extension VolumeUsage {
    package static let zero = VolumeUsage(usedBytes: 0, objectCount: 0, allocatedBytes: 0, reservedBytes: 0)
}
