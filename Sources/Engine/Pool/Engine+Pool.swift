// Pool-wide figures and the snapshot `/metrics` renders.
import Catalog
import Foundation

extension Engine {
    package func pool() throws(EngineError) -> PoolInfo {
        let members = try catalogCall { try catalog.poolMembership() }
        // Copies on failed devices: what a rebuild has yet to re-create elsewhere.
        let degraded = try catalogCall { try catalog.deviceRecords() }.filter { devices.failureReason(id: $0.id) != nil }
            .reduce(Int64(0)) { $0 + space.deviceAllocated($1.id) }
        let figures = space.poolFigures()
        return PoolInfo(
            id: poolUUID.uuidString.lowercased(), capacityBytes: figures.capacity, allocatedBytes: figures.allocated,
            reservedBytes: figures.reserved, freeBytes: max(0, figures.capacity - figures.allocated - figures.reserved),
            deviceCount: members.deviceCount, activeDeviceCount: members.activeDeviceCount, volumeCount: members.volumeCount,
            degradedBytes: degraded, metadataCopies: metadataCopiesStatus)
    }

    /// The space counters as they are, and the same figures counted afresh from the catalog (tests).
    package func spaceCounters() -> SpaceFigures { space.figures() }

    package func spaceRecount() throws(EngineError) -> SpaceFigures {
        let recount = try catalogCall { try catalog.recountUsage() }
        let pool = try catalogCall { try catalog.poolUsage() }
        return SpaceFigures(
            capacityBytes: pool.capacityBytes, allocatedBytes: pool.allocatedBytes, reservedBytes: pool.reservedBytes,
            devices: recount.devices, volumes: recount.volumeUsages.filter { id, _ in recount.volumes.contains { $0.id == id } })
    }

    package func snapshot() throws(EngineError) -> EngineSnapshot {
        let workers = workers.figures
        return EngineSnapshot(
            pool: try pool(), devices: try listDevices(), volumes: try listVolumes(), io: stats.snapshot, cache: cacheTotals, scrub: scrubCounters(),
            metadata: metadataFigures, workerThreads: workers.threads, workerQueue: workers.queued)
    }
}
