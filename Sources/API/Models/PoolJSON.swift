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
    var metadataCopies: MetadataCopiesJSON

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
        case metadataCopies = "metadata_copies"
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
        metadataCopies = MetadataCopiesJSON(info.metadataCopies)
    }
}

/// Where the catalog's copies are: how many are wanted, how many sit on active devices, and which
/// devices hold them ("data-directory" for a pool with no metadata area yet).
struct MetadataCopiesJSON: Codable, Sendable, Equatable {
    var wanted: Int
    var healthy: Int
    var devices: [String]

    init(_ copies: Engine.MetadataCopies) {
        wanted = copies.wanted
        healthy = copies.healthy
        devices = copies.devices
    }
}

struct HealthJSON: Codable, Sendable {
    var status: String
}
