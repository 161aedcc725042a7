// Multipart uploads: create, record a part (its extents of its own), list, complete (the parts'
// extent rows move to a new object version: no data is copied), abort. Parts count as the
// volume's used bytes while they wait, like any stored byte.
package import Foundation
import GRDB

/// What recording a part did: the part it replaced (same number), to free once durable.
package struct PartCommit: Sendable {
    package var part: PartRecord
    package var replaced: [ExtentReplicaRecord]
    package var delta: UsageDelta
}

/// What an abort (or a volume's deletion) freed.
package struct UploadRemoval: Sendable {
    package var replicas: [ExtentReplicaRecord]
    package var delta: UsageDelta
}

/// What a Complete did: the new version, the replicas no longer referenced (the replaced version,
/// parts left out of the list), and the change in figures. `retried`: the upload was completed
/// before (nothing changed now).
package struct UploadCompletion: Sendable {
    package var object: ObjectRecord
    package var freed: [ExtentReplicaRecord]
    /// The replaced version's inline extents, kept in `RetiredBodies` for its readers.
    package var freedInline: [Int64]
    package var delta: UsageDelta
    package var retried: Bool
}

extension Catalog {
    /// Records a new upload. `checkOpen` gets, in the same transaction, how many open uploads
    /// its volume holds already, and throws to refuse one more.
    package func createUpload(_ record: UploadRecord, checkOpen: (Int) throws -> Void = { _ in }) throws {
        try write { db in
            let open =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM multipart_uploads WHERE volumeId = ? AND completedETag IS NULL", arguments: [record.volumeId]) ?? 0
            try checkOpen(open)
            try record.insert(db)
        }
    }

    /// Open uploads (of any volume) created before `cutoff`, oldest first.
    package func openUploads(createdBefore cutoff: Date, limit: Int) throws(CatalogError) -> [UploadRecord] {
        try read { db in
            try UploadRecord.fetchAll(
                db, sql: "SELECT * FROM multipart_uploads WHERE completedETag IS NULL AND createdAt < ? ORDER BY createdAt, id LIMIT ?",
                arguments: [cutoff, limit])
        }
    }

    package func upload(id: String) throws(CatalogError) -> UploadRecord? {
        try read { db in try UploadRecord.fetchOne(db, key: id) }
    }

    /// Open (not completed) uploads of a volume, by key then creation, after the markers.
    package func listUploads(volumeID: Int64, prefix: String, keyMarker: String?, uploadIDMarker: String?, limit: Int) throws(CatalogError)
        -> [UploadRecord]
    {
        try read { db in
            var sql = "SELECT * FROM multipart_uploads WHERE volumeId = ? AND completedETag IS NULL AND substr(key, 1, length(?)) = ?"
            var arguments: StatementArguments = [volumeID, prefix, prefix]
            if let keyMarker {
                if let uploadIDMarker {
                    // Past the marker in the listing's own order (key, createdAt, id): ids are
                    // random, so `id > marker` alone skipped or repeated a key's later uploads.
                    sql += " AND (key > ? OR (key = ? AND (createdAt, id) > (SELECT createdAt, id FROM multipart_uploads WHERE id = ?)))"
                    arguments += [keyMarker, keyMarker, uploadIDMarker]
                } else {
                    sql += " AND key > ?"
                    arguments += [keyMarker]
                }
            }
            sql += " ORDER BY key, createdAt, id LIMIT ?"
            arguments += [limit]
            return try UploadRecord.fetchAll(db, sql: sql, arguments: arguments)
        }
    }

    static func parts(_ db: Database, uploadID: String) throws -> [StoredPart] {
        let parts = try PartRecord.fetchAll(db, sql: "SELECT * FROM multipart_parts WHERE uploadId = ? ORDER BY partNumber", arguments: [uploadID])
        return try parts.map { part in
            let extents = try ExtentRecord.fetchAll(
                db,
                sql: """
                    SELECT id, partId AS objectId, logicalOffset, length, checksumBlock, checksums FROM part_extents
                    WHERE partId = ? ORDER BY logicalOffset
                    """, arguments: [part.id!])
            let replicas = try ExtentReplicaRecord.fetchAll(
                db,
                sql: """
                    SELECT r.* FROM part_extent_replicas r JOIN part_extents e ON e.id = r.extentId
                    WHERE e.partId = ? ORDER BY r.extentId, r.deviceId
                    """, arguments: [part.id!])
            let byExtent = Dictionary(grouping: replicas, by: \.extentId)
            return StoredPart(record: part, extents: extents.map { StoredExtent(record: $0, replicas: byExtent[$0.id!] ?? []) })
        }
    }

    /// An upload's parts in part-number order (without extents when `extents` is false).
    package func parts(uploadID: String) throws(CatalogError) -> [PartRecord] {
        try read { db in
            try PartRecord.fetchAll(db, sql: "SELECT * FROM multipart_parts WHERE uploadId = ? ORDER BY partNumber", arguments: [uploadID])
        }
    }

    /// Records part `number` of an open upload (replacing an earlier upload of that number).
    /// `validate` sees the upload inside the transaction (nil: there is none, or it is completed).
    static func commitPart(
        _ db: Database, uploadID: String, number: Int64, size: Int64, etag: String, checksums: [String: String], extents: [NewExtent], now: Date,
        validate: (UploadRecord?) throws -> Void
    ) throws -> PartCommit {
        let upload = try UploadRecord.fetchOne(db, key: uploadID)
        try validate(upload.flatMap { $0.completedETag == nil ? $0 : nil })
        guard let upload else { throw CatalogError.notFound("upload \(uploadID)") }
        var delta = UsageDelta(volumeID: upload.volumeId)
        var replaced: [ExtentReplicaRecord] = []
        if let old = try parts(db, uploadID: uploadID).first(where: { $0.record.partNumber == number }) {
            replaced = old.extents.flatMap(\.replicas)
            delta.usedBytes -= old.record.size
            for replica in replaced { delta.allocatedByDevice[replica.deviceId, default: 0] -= replica.length }
            try db.execute(sql: "DELETE FROM multipart_parts WHERE id = ?", arguments: [old.record.id!])
        }
        var part = PartRecord(
            id: nil, uploadId: uploadID, partNumber: number, size: size, etag: etag, checksums: ObjectAttributes.encode(checksums), createdAt: now)
        try part.insert(db)
        for extent in extents {
            try db.execute(
                sql: "INSERT INTO part_extents (partId, logicalOffset, length, checksumBlock, checksums) VALUES (?, ?, ?, ?, ?)",
                arguments: [part.id!, extent.logicalOffset, extent.length, extent.checksumBlock, extent.checksums])
            let extentID = db.lastInsertedRowID
            for replica in extent.replicas {
                try db.execute(
                    sql: "INSERT INTO part_extent_replicas (extentId, deviceId, physicalOffset, length) VALUES (?, ?, ?, ?)",
                    arguments: [extentID, replica.deviceID, replica.offset, replica.length])
                delta.allocatedByDevice[replica.deviceID, default: 0] += replica.length
            }
        }
        delta.usedBytes += size
        return PartCommit(part: part, replaced: replaced, delta: delta)
    }

    /// Completes an upload: `choose` sees the upload and its stored parts (inside the
    /// transaction) and returns the parts, in order, that make the object, and its ETag; it
    /// throws to refuse. A completed upload whose object still carries its ETag answers the same
    /// again (`retried`).
    static func completeUpload(
        _ db: Database, _ retiring: Retiring, uploadID: String, now: Date, versioned: Bool = false,
        choose: (UploadRecord?, [StoredPart]) throws -> (parts: [StoredPart], etag: String, checksums: [String: String]),
        validate: (_ replacing: ObjectRecord?) throws -> Void = { _ in }
    ) throws -> UploadCompletion {
        let upload = try UploadRecord.fetchOne(db, key: uploadID)
        if let upload, let etag = upload.completedETag {
            if let current = try object(db, volumeID: upload.volumeId, key: upload.key), current.record.etag == etag {
                return UploadCompletion(
                    object: current.record, freed: [], freedInline: [], delta: UsageDelta(volumeID: upload.volumeId), retried: true)
            }
            _ = try choose(nil, [])
        }
        let stored = upload == nil ? [] : try parts(db, uploadID: uploadID)
        let chosen = try choose(upload, stored)
        guard let upload else { throw CatalogError.notFound("upload \(uploadID)") }
        var delta = UsageDelta(volumeID: upload.volumeId)
        var freed: [ExtentReplicaRecord] = []
        // Every stored part leaves the waiting parts: the chosen ones become the object's bytes,
        // the rest are freed.
        let chosenIDs = Set(chosen.parts.map { $0.record.id! })
        for part in stored {
            delta.usedBytes -= part.record.size
            if !chosenIDs.contains(part.record.id!) {
                let replicas = part.extents.flatMap(\.replicas)
                freed += replicas
                for replica in replicas { delta.allocatedByDevice[replica.deviceId, default: 0] -= replica.length }
            }
        }
        let existing = try object(db, volumeID: upload.volumeId, key: upload.key)
        try validate(existing?.record)
        guard let epochs = try VolumeEpochs.fetch(db, volumeID: upload.volumeId) else { throw CatalogError.notFound("volume \(upload.volumeId)") }
        let superseded = try supersede(
            db, retiring, epochs, volumeID: upload.volumeId, key: upload.key, versioned: versioned, current: existing, delta: &delta)
        freed += superseded.replicas
        let freedInline = superseded.inline
        let size = chosen.parts.reduce(Int64(0)) { $0 + $1.record.size }
        var object = ObjectRecord(
            id: nil, volumeId: upload.volumeId, key: upload.key, size: size, etag: chosen.etag, contentType: upload.contentType,
            createdAt: !versioned && existing?.record.versioned == false ? existing!.record.createdAt : now, modifiedAt: now,
            metadata: upload.metadata, checksums: ObjectAttributes.encode(chosen.checksums),
            parts: ObjectAttributes.encode(parts: chosen.parts.map(\.record.size)))
        (object.versioned, object.bornEpoch) = (versioned, epochs.current)
        try insertObjectRow(db, &object)
        var base: Int64 = 0
        for part in chosen.parts {
            for extent in part.extents {
                try db.execute(
                    sql: "INSERT INTO extents (objectId, logicalOffset, length, checksumBlock, checksums) VALUES (?, ?, ?, ?, ?)",
                    arguments: [
                        object.id!, base + extent.record.logicalOffset, extent.record.length, extent.record.checksumBlock, extent.record.checksums,
                    ])
                let extentID = db.lastInsertedRowID
                for replica in extent.replicas {
                    try db.execute(
                        sql: "INSERT INTO extent_replicas (extentId, deviceId, physicalOffset, length) VALUES (?, ?, ?, ?)",
                        arguments: [extentID, replica.deviceId, replica.physicalOffset, replica.length])
                }
            }
            base += part.record.size
        }
        // The moved replicas stay allocated: `add` counts them once more, undone here.
        delta.add(object, replicas: [])
        try db.execute(sql: "DELETE FROM multipart_parts WHERE uploadId = ?", arguments: [uploadID])
        try db.execute(
            sql: "UPDATE multipart_uploads SET completedETag = ?, completedAt = ? WHERE id = ?", arguments: [chosen.etag, now, uploadID])
        return UploadCompletion(object: object, freed: freed, freedInline: freedInline, delta: delta, retried: false)
    }

    /// Aborts an open upload: its parts' replicas are returned to free once durable.
    static func abortUpload(_ db: Database, uploadID: String) throws -> UploadRemoval? {
        guard let upload = try UploadRecord.fetchOne(db, key: uploadID), upload.completedETag == nil else { return nil }
        var delta = UsageDelta(volumeID: upload.volumeId)
        var replicas: [ExtentReplicaRecord] = []
        for part in try parts(db, uploadID: uploadID) {
            delta.usedBytes -= part.record.size
            for replica in part.extents.flatMap(\.replicas) {
                replicas.append(replica)
                delta.allocatedByDevice[replica.deviceId, default: 0] -= replica.length
            }
        }
        try db.execute(sql: "DELETE FROM multipart_uploads WHERE id = ?", arguments: [uploadID])
        return UploadRemoval(replicas: replicas, delta: delta)
    }

    /// Completed uploads' rows older than `before` (kept only so a retried Complete gets the same answer).
    package func pruneCompletedUploads(before: Date) throws(CatalogError) {
        do {
            try write { db in
                try db.execute(sql: "DELETE FROM multipart_uploads WHERE completedAt IS NOT NULL AND completedAt < ?", arguments: [before])
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }
}
