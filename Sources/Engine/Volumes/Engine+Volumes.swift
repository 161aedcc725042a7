import Catalog
package import Foundation
// Volumes: create, resize, delete, list. Each check runs in the same catalog transaction as the
// change it guards, so two concurrent requests cannot together over-reserve the pool.
import Logging
import Synchronization

extension Engine {
    package func listVolumes() throws(EngineError) -> [VolumeInfo] {
        try catalogCall { try catalog.volumeRecords() }.map { withCache(withUsage($0)) }
    }

    /// A volume's row with its figures from the space counters.
    func withUsage(_ record: VolumeRecord) -> VolumeWithUsage {
        VolumeWithUsage(record: record, usage: space.volumeUsage(record.id!) ?? .zero)
    }

    /// Volume info including the cache's reservation and page figures.
    func withCache(_ volume: VolumeWithUsage) -> VolumeInfo {
        var info = Self.info(volume)
        info.cache = pageCache.stats(volumeID: volume.record.id!)
        info.reservedBytes += info.cache.reservedBytes
        return info
    }

    package func volume(named name: String) throws(EngineError) -> VolumeInfo {
        guard let record = try catalogCall({ try catalog.volumeRecord(named: name) }) else { throw .volumeNotFound(name: name) }
        return withCache(withUsage(record))
    }

    /// Whether a volume of that name exists: from memory when its row is there (every object
    /// request asks), else the catalog; nil when only the catalog can tell and `mayWait` is false
    /// (an event loop).
    package func volumeExists(named name: String, mayWait: Bool = true) throws(EngineError) -> Bool? {
        if volumeRecords.withLock({ $0[name] }) != nil { return true }
        guard mayWait else { return nil }
        do {
            _ = try volumeRecord(named: name)
            return true
        } catch {
            if case .volumeNotFound = error { return false }
            throw error
        }
    }

    /// A new volume's record, once its name and settings are valid and the catalog has room for it.
    func newVolumeRecord(name: String, capacityBytes: Int64, replicas: Int64, provisioning: Provisioning, now: Date) throws(EngineError)
        -> VolumeRecord
    {
        try VolumeRules.validate(name: name)
        try VolumeRules.validate(capacity: capacityBytes)
        try VolumeRules.validate(replicas: replicas)
        try checkMetadataRoom()
        return VolumeRecord(
            name: name, capacityBytes: capacityBytes, replicas: replicas, provisioning: VolumeRecord.Provisioning(provisioning),
            createdAt: now.truncatedToSeconds)
    }

    package func createVolume(
        name: String, capacityBytes: Int64, replicas: Int64, provisioning: Provisioning, now: Date = Date()
    ) throws(EngineError) -> VolumeInfo {
        let record = try newVolumeRecord(name: name, capacityBytes: capacityBytes, replicas: replicas, provisioning: provisioning, now: now)
        let fits = poolCheck(for: record)
        let created = try catalogCall(duplicate: .volumeExists(name: name)) { try catalog.createVolume(record, validate: fits) }
        space.volumeCreated(created.record)
        volumeRecords.withLock { $0[name] = created.record }
        logger.info(
            "volume created",
            metadata: ["volume": "\(name)", "capacity": "\(capacityBytes)", "replicas": "\(replicas)", "provisioning": "\(provisioning.rawValue)"])
        return Self.info(created)
    }

    /// What a new volume `record` asks of the pool, checked against its usage inside the
    /// transaction that creates it: enough active devices for its replicas, and for a thick
    /// volume its whole reservation free.
    func poolCheck(for record: VolumeRecord) -> (PoolUsage) throws -> Void {
        let unavailable = devices.failedCount
        return { pool in
            // Devices that could not be opened count as active in the catalog, not here.
            let active = max(0, pool.activeDeviceCount - unavailable)
            if record.replicas > Int64(active) { throw EngineError.replicasExceedDevices(requested: record.replicas, active: active) }
            let reservation = record.capacityBytes * record.replicas
            if record.isThick, reservation > pool.freeBytes {
                throw EngineError.noSpace(.pool, needed: reservation, available: pool.freeBytes)
            }
        }
    }

    package func resizeVolume(named name: String, capacityBytes: Int64, now: Date = Date()) throws(EngineError) -> VolumeInfo {
        try VolumeRules.validate(capacity: capacityBytes)
        let resized = try catalogCall(notFound: .volumeNotFound(name: name)) {
            try catalog.resizeVolume(named: name, capacityBytes: capacityBytes, now: now.truncatedToSeconds) { before, poolAfter in
                if capacityBytes < before.usage.usedBytes {
                    throw EngineError.volumeShrinkBelowUsed(name: name, used: before.usage.usedBytes)
                }
                let growth = (capacityBytes - before.record.capacityBytes) * before.record.replicas
                let slack = poolAfter.capacityBytes - poolAfter.allocatedBytes - poolAfter.reservedBytes
                if before.record.isThick, growth > 0, slack < 0 {
                    throw EngineError.noSpace(.pool, needed: growth, available: max(0, growth + slack))
                }
            }
        }
        space.volumeResized(id: resized.record.id!, capacityBytes: resized.record.capacityBytes)
        volumeRecords.withLock { $0[name] = resized.record }
        return Self.info(withUsage(resized.record))
    }

    /// Deletes a volume; one holding objects only with `force`.
    package func deleteVolume(named name: String, force: Bool) throws(EngineError) {
        if let volume = try? volumeRecord(named: name) {
            let cached = pageCache.keys(volumeID: volume.id!)
            if !cached.isEmpty, !force { try flushVolume(named: name) }
            for key in cached { try? invalidateCached(volumeID: volume.id!, key: key.key, writeBackFirst: false) }
        }
        let id = try volumeRecord(named: name).id!
        let freed = try catalogCall(notFound: .volumeNotFound(name: name)) {
            try catalog.deleteVolume(named: name) { volume in
                if volume.usage.versionCount > 0, !force {
                    throw EngineError.volumeNotEmpty(name: name, objects: volume.usage.versionCount)
                }
                if !volume.clones.isEmpty { throw EngineError.volumeHasClones(name: name, clones: volume.clones) }
                if volume.record.snapshotEpoch != nil, !force { throw EngineError.volumeHasSnapshots(name: name) }
            }
        }
        space.volumeDeleted(id: id, freed: freed)
        volumeRecords.withLock { $0[name] = nil }
        deferredFree.retire(freed.map(PhysicalRange.init), inline: [])
        stats.forgetVolume(name)
        logger.info("volume deleted", metadata: ["volume": "\(name)", "force": "\(force)"])
    }

    static func info(_ volume: VolumeWithUsage) -> VolumeInfo {
        let r = volume.record
        return VolumeInfo(
            name: r.name, capacityBytes: r.capacityBytes, replicas: r.replicas,
            provisioning: Provisioning(r.provisioning), usedBytes: volume.usage.usedBytes,
            reservedBytes: volume.usage.reservedBytes, objectCount: volume.usage.objectCount,
            createdAt: r.createdAt, updatedAt: r.updatedAt, versioning: Versioning(rawValue: r.versioning.rawValue)!,
            noncurrentBytes: volume.usage.noncurrentBytes, snapshotBytes: volume.usage.snapshotBytes, cloneOf: r.origin,
            sharedBytes: volume.usage.sharedBytes)
    }

    /// Turns a volume's object versioning on, or suspends it; `off` only while it has never been on.
    package func setVersioning(named name: String, _ versioning: Versioning, now: Date = Date()) throws(EngineError) -> VolumeInfo {
        let column = VolumeRecord.Versioning(rawValue: versioning.rawValue)!
        let before = try volumeRecord(named: name)
        let set = { () throws(EngineError) -> VolumeRecord? in
            let record = try self.catalogCall(notFound: .volumeNotFound(name: name)) {
                try self.catalog.setVersioning(named: name, column, now: now.truncatedToSeconds) { before in
                    if column == .off, before.versioning != .off { throw EngineError.versioningCannotTurnOff(volume: name) }
                }
            }
            if let record { self.volumeRecords.withLock { $0[name] = record } }
            return record
        }
        let record = column == .off ? try set() : try startingToKeepRows(before, set)
        guard let record else { throw .volumeNotFound(name: name) }
        logger.info("volume versioning set", metadata: ["volume": "\(name)", "versioning": "\(versioning.rawValue)"])
        return withCache(withUsage(record))
    }
}

extension Provisioning {
    init(_ column: VolumeRecord.Provisioning) {
        switch column {
        case .thin: self = .thin
        case .thick: self = .thick
        }
    }
}

extension VolumeRecord.Provisioning {
    init(_ provisioning: Provisioning) {
        switch provisioning {
        case .thin: self = .thin
        case .thick: self = .thick
        }
    }
}
