// Wire DTOs for volumes (openapi.yaml: Volume, VolumeCreate, VolumeUpdate, VolumeList).
import Engine

struct VolumeJSON: Codable, Sendable, Equatable {
    var name: String
    var capacityBytes: Int64
    var replicas: Int64
    var provisioning: String
    var usedBytes: Int64
    var reservedBytes: Int64
    var objectCount: Int64
    var createdAt: String
    var updatedAt: String
    var dirtyPages: Int64
    var dirtyBytes: Int64
    var writebackPages: Int64
    var cachedPages: Int64
    var cacheHits: Int64
    var cacheMisses: Int64
    var versioning: String
    var noncurrentBytes: Int64
    var snapshotBytes: Int64

    enum CodingKeys: String, CodingKey {
        case name, replicas, provisioning, versioning
        case noncurrentBytes = "noncurrent_bytes"
        case snapshotBytes = "snapshot_bytes"
        case dirtyPages = "dirty_pages"
        case dirtyBytes = "dirty_bytes"
        case writebackPages = "writeback_pages"
        case cachedPages = "cached_pages"
        case cacheHits = "cache_hits"
        case cacheMisses = "cache_misses"
        case capacityBytes = "capacity_bytes"
        case usedBytes = "used_bytes"
        case reservedBytes = "reserved_bytes"
        case objectCount = "object_count"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    init(_ info: VolumeInfo) {
        name = info.name
        capacityBytes = info.capacityBytes
        replicas = info.replicas
        provisioning = info.provisioning.rawValue
        usedBytes = info.usedBytes
        reservedBytes = info.reservedBytes
        objectCount = info.objectCount
        createdAt = info.createdAt.wireFormat
        updatedAt = info.updatedAt.wireFormat
        dirtyPages = info.cache.dirtyPages
        dirtyBytes = info.cache.dirtyBytes
        writebackPages = info.cache.writebackPages
        cachedPages = info.cache.cachedPages
        cacheHits = info.cache.hits
        cacheMisses = info.cache.misses
        versioning = info.versioning.rawValue
        noncurrentBytes = info.noncurrentBytes
        snapshotBytes = info.snapshotBytes
    }
}

struct VolumeListJSON: Codable, Sendable {
    var volumes: [VolumeJSON]
}

struct VolumeCreateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["name", "capacity_bytes", "replicas", "provisioning"]
    var name: String
    var capacityBytes: Int64
    var replicas: Int64?
    var provisioning: String?

    enum CodingKeys: String, CodingKey {
        case name, replicas, provisioning
        case capacityBytes = "capacity_bytes"
    }
}

/// A PATCH of a volume: its capacity, its versioning, or both (at least one).
struct VolumeUpdateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["capacity_bytes", "versioning"]
    var capacityBytes: Int64?
    var versioning: String?

    enum CodingKeys: String, CodingKey {
        case versioning
        case capacityBytes = "capacity_bytes"
    }
}
