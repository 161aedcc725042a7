// Copies that share extents (S3 CopyObject within a volume): the copy is a row that borrows the
// bytes of the row it was copied from (`ObjectRecord.dataRow`, always a row that owns extents),
// like a clone's rows; no extent row and no byte is copied. Nothing holds the row lent, as a
// snapshot holds a clone's: when it is deleted (replaced, deleted, or collected once no snapshot
// sees it) and copies still read its bytes, it leaves its extents to one of them, the heir, and
// the others borrow from the heir. No physical range is ever owned by two rows, and an extent is
// freed only when no row reads it.
package import Foundation
import GRDB

/// A copy to commit: a new version of `key` that borrows the bytes of row `sourceRowID`, which
/// must still be the version read (its volume, key, ETag and size).
package struct ObjectCopy: Sendable {
    package var version: ObjectVersion
    package var sourceRowID: Int64
    package var sourceKey: String
    package var sourceETag: String

    package init(version: ObjectVersion, sourceRowID: Int64, sourceKey: String, sourceETag: String) {
        self.version = version
        self.sourceRowID = sourceRowID
        self.sourceKey = sourceKey
        self.sourceETag = sourceETag
    }
}

extension CatalogTransaction {
    /// `Catalog.commitCopy`, inside this transaction.
    package func commitCopy(_ copy: ObjectCopy, now: Date, validate: (_ replacing: ObjectRecord?) throws -> Void) throws -> ObjectCommit? {
        try Catalog.commitCopy(db, retiring, copy, now: now, validate: validate)
    }
}

extension Catalog {
    /// Records `copy` as the key's new version, borrowing the source row's extents, replacing
    /// the key's version as `commitObject` does (`validate` sees it). nil (nothing changed) when
    /// the source row is no longer the version read: the caller copies again.
    static func commitCopy(
        _ db: Database, _ retiring: Retiring, _ copy: ObjectCopy, now: Date, validate: (_ replacing: ObjectRecord?) throws -> Void
    ) throws -> ObjectCommit? {
        let version = copy.version
        guard let epochs = try VolumeEpochs.fetch(db, volumeID: version.volumeID) else { throw CatalogError.notFound("volume \(version.volumeID)") }
        // Compared by SQLite, byte for byte (Swift's `==` on strings is Unicode equivalence).
        let owner = try Int64.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT COALESCE(dataRow, id) FROM objects
                    WHERE id = ? AND volumeId = ? AND key = CAST(? AS TEXT) AND etag = ? AND size = ? AND deleteMarker = 0
                    """),
            arguments: [copy.sourceRowID, version.volumeID, copy.sourceKey, copy.sourceETag, version.size])
        guard let owner else { return nil }
        let existing = try object(db, volumeID: version.volumeID, key: version.key)
        try validate(existing?.record)
        var delta = UsageDelta(volumeID: version.volumeID)
        let created = !version.versioned && existing?.record.versioned == false ? existing!.record.createdAt : now
        var object = ObjectRecord(
            id: nil, volumeId: version.volumeID, key: version.key, size: version.size, etag: version.etag,
            contentType: version.contentType, createdAt: created, modifiedAt: now,
            metadata: version.attributes.storedMetadata, checksums: version.attributes.storedChecksums, parts: version.attributes.storedParts)
        (object.bornEpoch, object.dataRow) = (epochs.current, owner)
        // Inserted before the version it replaces goes, as a borrower that is no version of the
        // key yet (versioned, not latest: no lookup of the null or latest version finds it), so
        // that when the version replaced is the very row lent, the copy inherits its extents.
        (object.versioned, object.latest) = (true, false)
        try insertObjectRow(db, &object)
        delta.add(object, replicas: [])
        let (replaced, replacedInline) = try supersede(
            db, retiring, epochs, volumeID: version.volumeID, key: version.key, versioned: version.versioned, current: existing, delta: &delta)
        // The row replaced may have been the one lent (or lent the bytes to it): read where they are now.
        let lender: Int64? = try Row.fetchOne(db.cachedStatement(sql: "SELECT dataRow FROM objects WHERE id = ?"), arguments: [object.id!])![0]
        try db.cachedStatement(sql: "UPDATE objects SET latest = 1, versioned = ? WHERE id = ?").execute(arguments: [version.versioned, object.id!])
        delta.promote(size: lender == nil ? object.size : 0, deleteMarker: false)
        (object.versioned, object.latest, object.dataRow) = (version.versioned, true, lender)
        return ObjectCommit(
            object: StoredObject(record: object, extents: [], shared: true), replaced: replaced, replacedInline: replacedInline, delta: delta)
    }

    /// The borrower of a row's bytes (`dataRow`) in a volume that inherits them: a live one first.
    static let heirSQL = """
        SELECT id, size, latest, diedEpoch FROM objects WHERE dataRow = ? AND volumeId = ?
        ORDER BY diedEpoch IS NOT NULL, id LIMIT 1
        """

    /// Row `owner` (one that owns extents) is being deleted, or kept only for snapshots: when
    /// rows of its volume borrow its bytes, its extents become the heir's (a live borrower
    /// first), and every other borrower, `owner` too, borrows them from the heir, whose id is
    /// returned (nil: no borrower in its volume, nothing changed). So a row kept only for
    /// snapshots owns bytes only when no live row reads them (`snapshotBytes` is what snapshots
    /// alone hold). Borrowers in other volumes are clones' rows; their snapshot sees a row of the
    /// owner's volume that reads the same bytes, so the owner is kept, or has an heir.
    static func bequeath(_ db: Database, _ owner: ObjectRecord, delta: inout UsageDelta) throws -> Int64? {
        let heirRow = try Row.fetchOne(db.cachedStatement(sql: heirSQL), arguments: [owner.id!, owner.volumeId])
        guard let heirRow else { return nil }
        let heir: Int64 = heirRow["id"]
        try db.cachedStatement(sql: "UPDATE extents SET objectId = ? WHERE objectId = ?").execute(arguments: [heir, owner.id!])
        try db.cachedStatement(sql: "UPDATE objects SET dataRow = ? WHERE dataRow = ? AND id <> ?").execute(arguments: [heir, owner.id!, heir])
        try db.cachedStatement(sql: "UPDATE objects SET dataRow = ? WHERE id = ?").execute(arguments: [heir, owner.id!])
        try db.cachedStatement(sql: "UPDATE objects SET dataRow = NULL WHERE id = ?").execute(arguments: [heir])
        delta.inherit(size: heirRow["size"], latest: heirRow["latest"], kept: heirRow["diedEpoch"] as Int64? != nil)
        delta.lend(owner)
        return heir
    }
}
