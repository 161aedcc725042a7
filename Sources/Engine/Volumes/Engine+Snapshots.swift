import Catalog
package import Foundation
// Volume snapshots: point-in-time, read-only views of a whole volume, taken in O(1) (the catalog
// closes an epoch: Catalog+Snapshots.swift). From its first snapshot on, a volume keeps rows
// (`CacheAdmission`): every write goes to the direct writer, and one that replaces data reserves
// space for the whole new version, since a snapshot may keep the version it replaces. Deleting
// a snapshot frees what no other snapshot and no live row holds, after the last reader.
import Logging

/// A snapshot as clients see it.
package struct SnapshotInfo: Sendable, Equatable {
    package var name: String
    package var volume: String
    package var createdAt: Date

    init(_ record: SnapshotRecord, volume: String) {
        (name, self.volume, createdAt) = (record.name, volume, record.createdAt)
    }
}

extension Engine {
    /// Rows `collectUnseen` deletes per transaction: a deleted snapshot's rows are freed in
    /// batches, so that other writes wait for one batch at most.
    static let snapshotCollectBatch = 2_000

    /// Takes a snapshot of `volume` named `name`. Writes acknowledged before it are in it (async
    /// ones are written back first); writes under way may or may not be.
    @discardableResult
    package func createSnapshot(volume name: String, snapshot: String, now: Date = Date()) throws(EngineError) -> SnapshotInfo {
        try VolumeRules.validate(snapshotName: snapshot)
        try checkMetadataRoom()
        let volume = try volumeRecord(named: name)
        let record = try startingToKeepRows(volume) { () throws(EngineError) -> SnapshotRecord in
            let record = try catalogCall(notFound: .volumeNotFound(name: name), duplicate: .snapshotExists(volume: name, name: snapshot)) {
                try catalog.createSnapshot(volumeID: volume.id!, name: snapshot, now: now.truncatedToMilliseconds)
            }
            try reloadVolumeRecord(named: name)
            return record
        }
        logger.info("snapshot taken", metadata: ["volume": "\(name)", "snapshot": "\(snapshot)", "epoch": "\(record.epoch)"])
        return SnapshotInfo(record, volume: name)
    }

    /// The volume's snapshots, oldest first.
    package func snapshots(volume name: String) throws(EngineError) -> [SnapshotInfo] {
        let volume = try volumeRecord(named: name)
        return try catalogCall { try catalog.snapshots(volumeID: volume.id!) }.map { SnapshotInfo($0, volume: name) }
    }

    /// Deletes a snapshot, and frees the rows it alone kept.
    package func deleteSnapshot(volume name: String, snapshot: String) throws(EngineError) {
        let volume = try volumeRecord(named: name)
        let deleted = try catalogCall {
            try catalog.deleteSnapshot(volumeID: volume.id!, name: snapshot) { clones in
                if !clones.isEmpty { throw EngineError.snapshotHasClones(volume: name, name: snapshot, clones: clones) }
            }
        }
        guard deleted != nil else { throw .snapshotNotFound(volume: name, name: snapshot) }
        try reloadVolumeRecord(named: name)
        logger.info("snapshot deleted", metadata: ["volume": "\(name)", "snapshot": "\(snapshot)"])
        try collectUnseenRows(volumeID: volume.id!)
    }

    /// Frees the volume's rows kept for snapshots that none sees any more, a batch per
    /// transaction; each batch's space goes back once its readers are done.
    func collectUnseenRows(volumeID: Int64) throws(EngineError) {
        var after: (key: String, rowID: Int64)?
        repeat {
            let collection = try space.commit(SpaceAccounting.Reservation(volumeID: volumeID, thick: false)) {
                () throws(EngineError) -> (SnapshotCollection, UsageDelta?) in
                let collection = try catalogCall { try catalog.collectUnseen(volumeID: volumeID, after: after, limit: Self.snapshotCollectBatch) }
                return (collection, collection.delta)
            }
            deferredFree.retire(collection.replicas.map(PhysicalRange.init), inline: collection.inline)
            after = collection.next
        } while after != nil
    }

    /// At open: frees rows a snapshot deleted before a crash left behind.
    func collectUnseenRowsAtOpen() throws(EngineError) {
        for volumeID in try catalogCall({ try catalog.volumesKeepingRows() }) { try collectUnseenRows(volumeID: volumeID) }
    }

    /// One of the volume's snapshots; `snapshotNotFound` when it has none of that name.
    package func snapshot(volume name: String, named snapshot: String) throws(EngineError) -> SnapshotInfo {
        let record = try self.snapshot(try volumeRecord(named: name), named: snapshot)
        return SnapshotInfo(record, volume: name)
    }

    func snapshot(_ volume: VolumeRecord, named snapshot: String) throws(EngineError) -> SnapshotRecord {
        guard let record = try catalogCall({ try catalog.snapshot(volumeID: volume.id!, name: snapshot) }) else {
            throw .snapshotNotFound(volume: volume.name, name: snapshot)
        }
        return record
    }

    /// Opens what snapshot `snapshot` holds of `key` for reading (past the cache, which holds
    /// only current objects); close the reader when done.
    package func openObject(volume name: String, key: String, snapshot: String) throws(EngineError) -> ObjectReader {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        let epoch = try self.snapshot(volume, named: snapshot).epoch
        return try openPinned(volume: name) { () throws(EngineError) in
            guard let object = try catalogCall({ try catalog.object(volumeID: volume.id!, key: key, epoch: epoch) }) else {
                throw .objectNotFound(volume: "\(name)@\(snapshot)", key: key)
            }
            return object
        }
    }

    /// The objects snapshot `snapshot` holds, in key order.
    package func listObjects(
        volume name: String, snapshot: String, prefix: String, startAfter: String?, limit: Int
    ) throws(EngineError) -> [ObjectInfo] {
        let volume = try volumeRecord(named: name)
        let epoch = try self.snapshot(volume, named: snapshot).epoch
        return try catalogCall {
            try catalog.listObjects(volumeID: volume.id!, prefix: prefix, startAfter: startAfter, limit: limit, epoch: epoch)
        }.map(ObjectInfo.init)
    }

    /// Reads the volume's row again after a change to it.
    func reloadVolumeRecord(named name: String) throws(EngineError) {
        let record = try catalogCall { try catalog.volumeRecord(named: name) }
        volumeRecords.withLock { $0[name] = record }
    }
}
