// A volume: a named namespace of objects with a quota, a replica count and a provisioning mode.
package import Foundation
package import GRDB

package struct VolumeRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "volumes"

    package var id: Int64?
    package var name: String
    package var capacityBytes: Int64
    package var replicas: Int64
    package var provisioning: Provisioning
    /// Whether writes keep the versions they replace (`Versioning`).
    package var versioning: Versioning = .off
    /// The epoch its rows are born in now (`SnapshotRecord`).
    package var epoch: Int64 = 0
    /// Its newest snapshot's epoch; nil without snapshots.
    package var snapshotEpoch: Int64?
    /// The snapshot (its row id) this volume is a clone of; nil for a volume made empty.
    package var cloneOf: Int64?
    /// A clone's origin as clients named it: "volume@snapshot".
    package var origin: String?
    package var createdAt: Date
    package var updatedAt: Date

    package init(name: String, capacityBytes: Int64, replicas: Int64, provisioning: Provisioning, createdAt: Date) {
        self.name = name
        self.capacityBytes = capacityBytes
        self.replicas = replicas
        self.provisioning = provisioning
        self.createdAt = createdAt
        self.updatedAt = createdAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }

    /// A typed column (its raw name; the schema CHECKs the set).
    package enum Provisioning: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case thin, thick
    }

    /// Object versioning, as S3 has it: `off` (never enabled: a write replaces the object),
    /// `enabled` (every write and delete makes a version; the ones before are kept), `suspended`
    /// (writes and deletes make the null version; versions kept before stay). Once enabled, a
    /// volume is never `off` again.
    package enum Versioning: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case off, enabled, suspended
    }

    /// Every row a change replaces may still be wanted (versions, snapshots), or may borrow its
    /// extents (a clone): writes go to the direct writer, each one a row of its own, none spliced
    /// over another's extents.
    package var keepsRows: Bool { versioning != .off || snapshotEpoch != nil || cloneOf != nil }

    /// Its whole quota is reserved up front.
    package var isThick: Bool { provisioning == .thick }

    package enum Columns {
        static let name = Column(CodingKeys.name)
    }
}
