// Wire DTOs for devices (openapi.yaml: Device, DeviceCreate, DeviceUpdate, DeviceList).
import Catalog
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
    /// by arithmetic on the civil date, which the ISO 8601 format style's calendar made ~9,000
    /// instructions a date (a listed object has one). The format style itself for years before
    /// 1583 (its calendar is Julian before October 1582) or after 9999.
    var wireFormat: String {
        let seconds = Int64(timeIntervalSince1970.rounded(.down))
        let (days, time) = CivilDate.days(seconds, per: 86_400)
        let civil = CivilDate(daysSince1970: days)
        guard (1583...9999).contains(civil.year) else { return formatted(.iso8601) }
        return String(unsafeUninitializedCapacity: 20) { out in
            func digits(_ at: Int, _ value: Int64, _ count: Int) {
                var value = value
                for i in (0..<count).reversed() {
                    out[at + i] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            digits(0, civil.year, 4)
            out[4] = UInt8(ascii: "-")
            digits(5, civil.month, 2)
            out[7] = UInt8(ascii: "-")
            digits(8, civil.day, 2)
            out[10] = UInt8(ascii: "T")
            digits(11, time / 3600, 2)
            out[13] = UInt8(ascii: ":")
            digits(14, time / 60 % 60, 2)
            out[16] = UInt8(ascii: ":")
            digits(17, time % 60, 2)
            out[19] = UInt8(ascii: "Z")
            return 20
        }
    }
}
