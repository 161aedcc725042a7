// Pool-wide figures and the snapshot `/metrics` renders.
import Catalog
import Foundation
extension Engine {
    package func pool() throws(EngineError) -> PoolInfo {
        let usage = try catalogCall { try catalog.poolUsage() }
        return PoolInfo(
            id: poolUUID.uuidString.lowercased(), capacityBytes: usage.capacityBytes, allocatedBytes: usage.allocatedBytes,
            reservedBytes: usage.reservedBytes, freeBytes: usage.freeBytes, deviceCount: usage.deviceCount,
            activeDeviceCount: usage.activeDeviceCount, volumeCount: usage.volumeCount)
    }

    package func snapshot() throws(EngineError) -> EngineSnapshot {
        EngineSnapshot(pool: try pool(), devices: try listDevices(), volumes: try listVolumes(), io: stats.snapshot, cache: cacheTotals)
    }
}
