// Wire DTOs for volume snapshots (openapi.yaml: Snapshot, SnapshotCreate, SnapshotList).
import Engine

struct SnapshotJSON: Codable, Sendable, Equatable {
    var name: String
    var volume: String
    var createdAt: String

    enum CodingKeys: String, CodingKey {
        case name, volume
        case createdAt = "created_at"
    }

    init(_ info: SnapshotInfo) {
        name = info.name
        volume = info.volume
        createdAt = info.createdAt.wireFormat
    }
}

struct SnapshotListJSON: Codable, Sendable {
    var snapshots: [SnapshotJSON]
}

struct SnapshotCreateJSON: Decodable, Sendable {
    static let fields: Set<String> = ["name"]
    var name: String
}
