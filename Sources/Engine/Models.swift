// What the Engine hands to the layer above: plain values, never catalog records.
package import Foundation

package enum Provisioning: String, Sendable, Equatable, CaseIterable {
    case thin, thick
}

package struct DeviceInfo: Sendable, Equatable {
    package var id: String
    package var path: String
    package var label: String?
    package var state: DeviceState
    package var capacityBytes: Int64
    package var usedBytes: Int64
    package var logicalBlockSize: Int64
    package var createdAt: Date
}

package struct VolumeInfo: Sendable, Equatable {
    package var name: String
    package var capacityBytes: Int64
    package var replicas: Int64
    package var provisioning: Provisioning
    package var usedBytes: Int64
    package var reservedBytes: Int64
    package var objectCount: Int64
    package var createdAt: Date
    package var updatedAt: Date
    /// Page-cache figures (same per-page state that holds the reservations).
    package var cache = VolumeCacheStats()
}

package struct PoolInfo: Sendable, Equatable {
    package var id: String
    package var capacityBytes: Int64
    package var allocatedBytes: Int64
    package var reservedBytes: Int64
    package var freeBytes: Int64
    package var deviceCount: Int
    package var activeDeviceCount: Int
    package var volumeCount: Int
}

/// Everything `/metrics` shows about the engine, taken at one moment.
package struct EngineSnapshot: Sendable, Equatable {
    // Equatable by hand: the cache totals are a tuple.
    package var pool: PoolInfo
    package var devices: [DeviceInfo]
    package var volumes: [VolumeInfo]
    package var io: IOStatsSnapshot
    package var cache: (reservable: Int64, writebackBytes: Int64, writebackErrors: Int64, throttled: Int64)

    package static func == (a: EngineSnapshot, b: EngineSnapshot) -> Bool {
        a.pool == b.pool && a.devices == b.devices && a.volumes == b.volumes && a.io == b.io
    }
}

package struct ObjectInfo: Sendable, Equatable {
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?
    package var createdAt: Date
    package var modifiedAt: Date
}
