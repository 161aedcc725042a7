// Group commit at the catalog: several callers' changes in one write transaction (one WAL fsync
// with `synchronous = FULL`), each in its own savepoint so one caller's failure rolls back that
// caller's change only.
package import Foundation
import GRDB

/// One write transaction, as a caller of `commitGroup` sees it: the changes it may make.
package struct CatalogTransaction {
    let db: Database
    /// Where the change keeps the bytes of inline rows it deletes (dropped if it rolls back).
    let retiring: Retiring

    /// `Catalog.commitObject`, inside this transaction.
    package func commitObject(
        _ version: ObjectVersion, extents: [NewExtent], now: Date,
        validate: (_ replacing: ObjectRecord?) throws -> Void
    ) throws -> ObjectCommit {
        try Catalog.commitObject(db, retiring, version, extents: extents, now: now, validate: validate)
    }

    /// `Catalog.commitPart`, inside this transaction.
    package func commitPart(
        uploadID: String, number: Int64, size: Int64, etag: String, checksums: [String: String], extents: [NewExtent], now: Date,
        validate: (UploadRecord?) throws -> Void
    ) throws -> PartCommit {
        try Catalog.commitPart(
            db, uploadID: uploadID, number: number, size: size, etag: etag, checksums: checksums, extents: extents, now: now, validate: validate)
    }

    /// `Catalog.completeUpload`, inside this transaction.
    package func completeUpload(
        uploadID: String, now: Date, versioned: Bool = false,
        choose: (UploadRecord?, [StoredPart]) throws -> (parts: [StoredPart], etag: String, checksums: [String: String]),
        validate: (_ replacing: ObjectRecord?) throws -> Void = { _ in }
    ) throws -> UploadCompletion {
        try Catalog.completeUpload(db, retiring, uploadID: uploadID, now: now, versioned: versioned, choose: choose, validate: validate)
    }

    /// `Catalog.abortUpload`, inside this transaction.
    package func abortUpload(uploadID: String) throws -> UploadRemoval? {
        try Catalog.abortUpload(db, uploadID: uploadID)
    }

    /// `Catalog.deleteObject`, inside this transaction.
    package func deleteObject(volumeID: Int64, key: String, _ removal: ObjectRemoval = .current, now: Date) throws -> ObjectDeletion? {
        try Catalog.deleteObject(db, retiring, volumeID: volumeID, key: key, removal, now: now)
    }
}

extension Catalog {
    /// Runs every change in one transaction, each in a savepoint. Returns each change's error
    /// (nil when it is part of the committed transaction); throws when the transaction itself
    /// could not commit, in which case none of them took effect. The bytes of inline rows a
    /// committed change deleted stay in `retiredBodies` until its caller releases them.
    package func commitGroup(_ changes: [(CatalogTransaction) throws -> Void]) throws(CatalogError) -> [(any Error)?] {
        let retiring = changes.map { _ in Retiring(retiredBodies) }
        if changes.count == 1 {
            // A lone change needs no savepoint (two statements parsed and run, ~35,000
            // instructions): its failure rolls the whole transaction back, which is the same.
            var failed: (any Error)?
            do {
                try write { db in
                    do {
                        try changes[0](CatalogTransaction(db: db, retiring: retiring[0]))
                    } catch {
                        failed = error
                        throw error
                    }
                }
                return [nil]
            } catch {
                retiring[0].rollBack()
                if let failed { return [failed] }
                throw CatalogError.wrap(error)
            }
        }
        do {
            return try write { db in
                zip(changes, retiring).map { change, retiring -> (any Error)? in
                    do {
                        try db.inSavepoint {
                            try change(CatalogTransaction(db: db, retiring: retiring))
                            return .commit
                        }
                        return nil
                    } catch {
                        retiring.rollBack()
                        return error
                    }
                }
            }
        } catch {
            for change in retiring { change.rollBack() }
            throw CatalogError.wrap(error)
        }
    }
}
