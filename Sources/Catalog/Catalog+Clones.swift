// Clones: a writable volume made from a snapshot. It starts with one row per object the snapshot
// holds, each borrowing the bytes of the row it was made from (`ObjectRecord.dataRow`, always a
// row with extents of its own): no data and no extent row is copied, and the snapshot keeps the
// rows lent (it cannot be deleted while a clone of it exists). A clone's own writes are rows of
// its own; replacing or deleting a borrowed row frees nothing.
package import Foundation
import GRDB

extension Catalog {
    /// The current rows (volume id, volume name, key) that read extent `extentID`: the row that
    /// owns it and the rows that borrow its bytes (clones' and copies'), in key order: the cache
    /// entries a move of one of its copies must not leave pointing at the old place.
    package func readers(ofExtent extentID: Int64) throws(CatalogError) -> [(volumeID: Int64, volume: String, key: String)] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT v.id, v.name, o.key FROM extents e JOIN objects o ON o.id = e.objectId JOIN volumes v ON v.id = o.volumeId
                    WHERE e.id = ? AND o.latest = 1
                    UNION
                    SELECT v.id, v.name, o.key FROM extents e JOIN objects o ON o.dataRow = e.objectId JOIN volumes v ON v.id = o.volumeId
                    WHERE e.id = ? AND o.latest = 1
                    ORDER BY 1, 3
                    """, arguments: [extentID, extentID]
            ).map { ($0[0], $0[1], $0[2]) }
        }
    }

    /// Rows of a clone inserted per statement batch while it is made.
    static let clonePage = 1000

    /// Inserts volume `record` as a clone of snapshot `snapshot` of volume `originID` (nil from
    /// the snapshot lookup: `notFound`), after `validate` approves it against the pool's usage.
    /// `duplicate` when the name is taken. Returns the volume and what its rows add to its figures.
    package func createClone(
        _ record: VolumeRecord, origin originID: Int64, snapshot name: String, validate: (PoolUsage) throws -> Void
    ) throws -> (volume: VolumeWithUsage, delta: UsageDelta) {
        try write { db in
            if try VolumeRecord.filter(VolumeRecord.Columns.name == record.name).fetchCount(db) > 0 {
                throw CatalogError.duplicate("volume \(record.name)")
            }
            guard let snapshot = try Self.snapshot(db, volumeID: originID, name: name) else { throw CatalogError.notFound("snapshot \(name)") }
            try validate(try Self.poolUsage(db))
            var record = record
            record.cloneOf = snapshot.id
            try record.insert(db)
            let cloneID = record.id!
            var delta = UsageDelta(volumeID: cloneID)
            let lend = try db.cachedStatement(
                sql: """
                    INSERT INTO objects (volumeId, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, parts,
                        versioned, latest, deleteMarker, bornEpoch, dataRow)
                    SELECT ?, key, size, etag, contentType, createdAt, modifiedAt, metadata, checksums, parts, 0, 1, 0, 0, COALESCE(dataRow, id)
                    FROM objects WHERE id = ?
                    """)
            var after: String?
            while true {
                let page = try Self.snapshotObjects(
                    db, volumeID: originID, prefix: "", startAfter: after, limit: Self.clonePage, epoch: snapshot.epoch)
                for row in page {
                    try lend.execute(arguments: [cloneID, row.id!])
                    var lent = row
                    (lent.volumeId, lent.versioned, lent.latest, lent.deleteMarker, lent.dataRow) = (cloneID, false, true, false, row.id)
                    delta.add(lent, replicas: [])
                }
                guard page.count == Self.clonePage else { break }
                after = page.last!.key
            }
            return (try Self.volume(db, named: record.name)!, delta)
        }
    }
}
