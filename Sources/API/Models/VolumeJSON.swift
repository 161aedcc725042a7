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
    var cloneOf: String?
    var sharedBytes: Int64
    var exclusiveBytes: Int64
    /// In a fleet: the node serving it.
    var node: String?

    enum CodingKeys: String, CodingKey {
        case name, replicas, provisioning, versioning, node
        case noncurrentBytes = "noncurrent_bytes"
        case snapshotBytes = "snapshot_bytes"
        case cloneOf = "clone_of"
        case sharedBytes = "shared_bytes"
        case exclusiveBytes = "exclusive_bytes"
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
        cloneOf = info.cloneOf
        sharedBytes = info.sharedBytes
        exclusiveBytes = info.usedBytes
    }

    /// `clone_of` is always sent (null for a volume made empty).
    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(capacityBytes, forKey: .capacityBytes)
        try container.encode(replicas, forKey: .replicas)
        try container.encode(provisioning, forKey: .provisioning)
        try container.encode(usedBytes, forKey: .usedBytes)
        try container.encode(reservedBytes, forKey: .reservedBytes)
        try container.encode(objectCount, forKey: .objectCount)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(dirtyPages, forKey: .dirtyPages)
        try container.encode(dirtyBytes, forKey: .dirtyBytes)
        try container.encode(writebackPages, forKey: .writebackPages)
        try container.encode(cachedPages, forKey: .cachedPages)
        try container.encode(cacheHits, forKey: .cacheHits)
        try container.encode(cacheMisses, forKey: .cacheMisses)
        try container.encode(versioning, forKey: .versioning)
        try container.encode(noncurrentBytes, forKey: .noncurrentBytes)
        try container.encode(snapshotBytes, forKey: .snapshotBytes)
        try container.encode(cloneOf, forKey: .cloneOf)
        try container.encode(sharedBytes, forKey: .sharedBytes)
        try container.encode(exclusiveBytes, forKey: .exclusiveBytes)
        try container.encodeIfPresent(node, forKey: .node)
    }
}

struct VolumeListJSON: Codable, Sendable {
    var volumes: [VolumeJSON]
    /// In a fleet: nodes whose volumes are missing from the list because they did not answer.
    var unreachableNodes: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case volumes
        case unreachableNodes = "unreachable_nodes"
    }
}

struct VolumeCreateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["name", "capacity_bytes", "replicas", "provisioning", "clone_of", "node"]
    var name: String
    /// Required unless the volume is a clone (which takes its origin's by default).
    var capacityBytes: Int64?
    var replicas: Int64?
    var provisioning: String?
    /// "volume@snapshot": the volume is a clone of that snapshot.
    var cloneOf: String?
    /// In a fleet: the node to make it on (default: a clone's origin's, else the most free space).
    var node: String?

    enum CodingKeys: String, CodingKey {
        case name, replicas, provisioning, node
        case capacityBytes = "capacity_bytes"
        case cloneOf = "clone_of"
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
