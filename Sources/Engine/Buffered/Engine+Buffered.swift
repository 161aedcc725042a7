import Catalog
import Foundation
// Entry points for buffered IO and the seams that keep direct IO coherent with the cache.
import Logging
import Synchronization

extension Engine {
    /// Starts a buffered PUT (`.replace`) or PATCH (`.patch(offset:)`); nil when the volume takes
    /// no writes through the cache (it keeps rows: `CacheAdmission`).
    package func beginBufferedUpload(
        volume name: String, key: String, contentType: String?, length: Int64?, mode: BufferedUpload.Mode,
        metadata: [String: String] = [:], checksums: [String: String] = [:], conditions: WriteConditions = .none
    ) throws(EngineError) -> BufferedUpload? {
        try Self.validate(key: key)
        if case .patch(let offset) = mode { try Self.validate(offset: offset, length: length ?? 0) } else { try Self.validate(length: length) }
        // Entered before the record is read: a change that makes the volume keep rows either
        // waits for this upload, or is in the record read here.
        let volumeID = try volumeRecord(named: name).id!
        guard cacheAdmission.enter(volumeID) else { return nil }
        do throws(EngineError) {
            let volume = try volumeRecord(named: name)
            guard volume.id == volumeID, !volume.keepsRows else {
                cacheAdmission.leave(volumeID)
                return nil
            }
            return try admittedUpload(
                volume: volume, key: key, contentType: contentType, length: length, mode: mode, metadata: metadata, checksums: checksums,
                conditions: conditions)
        } catch {
            cacheAdmission.leave(volumeID)
            throw error
        }
    }

    /// `beginBufferedUpload` once admitted: the upload leaves the admission when it is applied or aborted.
    private func admittedUpload(
        volume: VolumeRecord, key: String, contentType: String?, length: Int64?, mode: BufferedUpload.Mode,
        metadata: [String: String], checksums: [String: String], conditions: WriteConditions
    ) throws(EngineError) -> BufferedUpload {
        let name = volume.name
        throttleWriters()
        let base = try? pageCache.replacementBase(CacheKey(volumeID: volume.id!, key: key), load: cacheLoader(volume, key: key))
        let existing = base?.info
        var credited = base?.shared == false
        if base?.shared == true { credited = try !sharesBytes(volume, key) }
        // A write its conditions refuse now is refused before its body is taken (and checked again at the end).
        try conditions.check(current: existing?.etag, volume: name, key: key)
        if existing == nil { try checkMetadataRoom(key: key, metadata: metadata) }
        if case .patch = mode {
            guard existing != nil else { throw .objectNotFound(volume: name, key: key) }
            // A PATCH is staged whole before it is applied (atomically): it must fit the cache.
            if let length, length > spillThreshold { throw .patchTooLarge(length: length, limit: spillThreshold) }
        }
        let upload = try BufferedUpload(
            engine: self, volume: volume, key: key, mode: mode, contentType: contentType ?? existing?.contentType,
            attributes: mode == .replace ? ObjectAttributes(metadata: metadata, checksums: checksums) : existing?.attributes ?? .none,
            declaredLength: length, existing: existing, credited: credited)
        upload.conditions = conditions
        return upload
    }

    /// The committed version of `key` shares its bytes with other rows, as the catalog has it now.
    /// A cached entry that says so may be out of date (the copies that shared them deleted since);
    /// one that says not is not (a copy drops the entries of both its keys).
    func sharesBytes(_ volume: VolumeRecord, _ key: String) throws(EngineError) -> Bool {
        try catalogCall { try catalog.object(volumeID: volume.id!, key: key) }?.shared ?? false
    }

    /// From memory only (an event loop may call it): throws the refusal an upload of `length`
    /// bytes into `name` is certain to get, whatever object it replaces (it could be credited with
    /// the whole volume's use). Nothing when the volume is not in memory or the length unknown.
    package func refuseUploadEarly(volume name: String, length: Int64?) throws(EngineError) {
        try Self.validate(length: length)
        guard let length, length > 0, let volume = volumeRecords.withLock({ $0[name] }) else { return }
        try space.refuseEarly(
            volumeID: volume.id!, thick: volume.isThick, logical: length,
            physical: SpaceAccounting.physicalBytes(logical: length, replicas: volume.replicas))
    }

    /// Writes back every dirty object (shutdown).
    func flushAll() {
        for (key, error) in flushEach(pageCache.dirtyKeys(), width: Self.flushWidth) {
            logger.critical("could not write back at shutdown", metadata: ["key": "\(key.key)", "error": "\(error)"])
        }
    }

    /// The cache's figures for a volume (the same per-page state that holds the reservations).
    package func cacheStats(volume name: String) throws(EngineError) -> VolumeCacheStats {
        pageCache.stats(volumeID: try volumeRecord(named: name).id!)
    }

    /// Sum of per-page reserved sectors (bytes) and what the space accounting holds for the cache,
    /// for the reservation invariant.
    package func reservationFigures() -> (pagesReserved: Int64, accounted: Int64) {
        (pageCache.reservedBytes, space.inflightPhysical)
    }

    package var throttledWriters: Int64 { pageCache.throttled }
}

extension Engine {
    /// Drops the cached pages of an object (after a direct write), writing dirty ones back first.
    package func dropCached(volume name: String, key: String) throws(EngineError) {
        let volume = try volumeRecord(named: name)
        try invalidateCached(volumeID: volume.id!, key: key, writeBackFirst: true)
    }

    /// The largest logical block size among the pool's devices: direct IO alignment.
    package var directAlignment: Int64 {
        (try? listDevices().map(\.logicalBlockSize).max()) ?? 512
    }

    /// Pool-wide buffered-IO figures for `/metrics`.
    package var cacheTotals: CacheTotals {
        let figures = pageCache.totals
        var totals = CacheTotals(writebackBytes: figures.writebackBytes, writebackErrors: figures.writebackErrors, throttled: figures.throttled)
        totals.reservable = space.reservableBytes
        totals.capacityBytes = Int64(pageCache.capacityPages * PageState.pageSize)
        let frames = FramePool.shared.counts
        totals.memoryBytes = Int64(frames.carved * PageState.pageSize)
        totals.usedBytes = Int64((frames.carved - frames.free) * PageState.pageSize)
        return totals
    }
}
