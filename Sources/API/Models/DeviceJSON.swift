// Wire DTOs for devices (openapi.yaml: Device, DeviceCreate, DeviceUpdate, DeviceList).
import Engine
import Foundation

struct DeviceJSON: Codable, Sendable, Equatable {
    var id: String
    var path: String
    var label: String?
    var state: String
    var capacityBytes: Int64
    var usedBytes: Int64
    var logicalBlockSize: Int64
    var createdAt: String
    var movedBytes: Int64
    var remainingBytes: Int64
    var metadataBytes: Int64

    enum CodingKeys: String, CodingKey {
        case id, path, label, state
        case capacityBytes = "capacity_bytes"
        case usedBytes = "used_bytes"
        case logicalBlockSize = "logical_block_size"
        case createdAt = "created_at"
        case movedBytes = "moved_bytes"
        case remainingBytes = "remaining_bytes"
        case metadataBytes = "metadata_bytes"
    }

    init(_ info: DeviceInfo) {
        id = info.id
        path = info.path
        label = info.label
        state = info.state.rawValue
        capacityBytes = info.capacityBytes
        usedBytes = info.usedBytes
        logicalBlockSize = info.logicalBlockSize
        createdAt = info.createdAt.wireFormat
        movedBytes = info.movedBytes
        remainingBytes = info.remainingBytes
        metadataBytes = info.metadataBytes
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(path, forKey: .path)
        try c.encode(label, forKey: .label)  // explicit null, as the schema says
        try c.encode(state, forKey: .state)
        try c.encode(capacityBytes, forKey: .capacityBytes)
        try c.encode(usedBytes, forKey: .usedBytes)
        try c.encode(logicalBlockSize, forKey: .logicalBlockSize)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(movedBytes, forKey: .movedBytes)
        try c.encode(remainingBytes, forKey: .remainingBytes)
        try c.encode(metadataBytes, forKey: .metadataBytes)
    }
}

struct DeviceListJSON: Codable, Sendable {
    var devices: [DeviceJSON]
}

struct DeviceCreateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["path", "label", "force", "metadata_bytes"]
    var path: String
    var label: String?
    var force: Bool?
    var metadataBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case path, label, force
        case metadataBytes = "metadata_bytes"
    }
}

struct DeviceUpdateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["state"]
    var state: String
}

extension Date {
    /// RFC 3339 in UTC, whole seconds (`2026-12-07T02:14:08Z`, as `formatted(.iso8601)` writes it):
    /// `RFC3339`, or the format style itself for years before 1583 (its calendar is Julian before
    /// October 1582) or after 9999.
    var wireFormat: String { RFC3339.format(self, milliseconds: false, years: 1583...9999) ?? formatted(.iso8601) }
}
