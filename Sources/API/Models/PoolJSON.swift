// Wire DTO for the pool (openapi.yaml: Pool) and the health answer.
import Engine

struct PoolJSON: Codable, Sendable, Equatable {
    var id: String
    var capacityBytes: Int64
    var allocatedBytes: Int64
    var reservedBytes: Int64
    var freeBytes: Int64
    var deviceCount: Int
    var activeDeviceCount: Int
    var volumeCount: Int
    var degradedBytes: Int64

    enum CodingKeys: String, CodingKey {
        case id
        case capacityBytes = "capacity_bytes"
        case allocatedBytes = "allocated_bytes"
        case reservedBytes = "reserved_bytes"
        case freeBytes = "free_bytes"
        case deviceCount = "device_count"
        case activeDeviceCount = "active_device_count"
        case volumeCount = "volume_count"
        case degradedBytes = "degraded_bytes"
    }

    init(_ info: PoolInfo) {
        id = info.id
        capacityBytes = info.capacityBytes
        allocatedBytes = info.allocatedBytes
        reservedBytes = info.reservedBytes
        freeBytes = info.freeBytes
        deviceCount = info.deviceCount
        activeDeviceCount = info.activeDeviceCount
        volumeCount = info.volumeCount
        degradedBytes = info.degradedBytes
    }
}

struct HealthJSON: Codable, Sendable {
    var status: String
}
