import Catalog
package import Foundation
// Clones: `POST /v1/volumes {"clone_of": "volume@snapshot"}` makes a writable volume that starts
// as the snapshot holds its origin, sharing every extent with it (Catalog+Clones.swift): nothing
// is copied but one catalog row per object, nothing is allocated, and a write to the clone is a
// row of its own. A clone keeps rows (`VolumeRecord.keepsRows`): a splice over a borrowed row's
// extents would share them with a row of the clone's own.
import Logging

extension Engine {
    /// Makes volume `name` a clone of snapshot `snapshot` of volume `origin`. Capacity, replicas
    /// and provisioning default to the origin's.
    @discardableResult
    package func createClone(
        name: String, origin: String, snapshot: String, capacityBytes: Int64? = nil, replicas: Int64? = nil, provisioning: Provisioning? = nil,
        now: Date = Date()
    ) throws(EngineError) -> VolumeInfo {
        try VolumeRules.validate(name: name)  // before the origin is looked up
        let source = try volumeRecord(named: origin)
        var record = try newVolumeRecord(
            name: name, capacityBytes: capacityBytes ?? source.capacityBytes, replicas: replicas ?? source.replicas,
            provisioning: provisioning ?? Provisioning(source.provisioning), now: now)
        record.origin = "\(origin)@\(snapshot)"
        let fits = poolCheck(for: record)
        let (created, delta) = try catalogCall(
            notFound: .snapshotNotFound(volume: origin, name: snapshot), duplicate: .volumeExists(name: name)
        ) { try catalog.createClone(record, origin: source.id!, snapshot: snapshot, validate: fits) }
        space.volumeCreated(created.record)
        space.apply(delta, releasing: SpaceAccounting.Reservation(volumeID: created.record.id!, thick: false))
        volumeRecords.withLock { $0[name] = created.record }
        logger.info("volume cloned", metadata: ["volume": "\(name)", "origin": "\(origin)@\(snapshot)", "objects": "\(delta.objectCount)"])
        return try volume(named: name)
    }
}
