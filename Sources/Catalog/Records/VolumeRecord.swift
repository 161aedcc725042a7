// A volume: a named namespace of objects with a quota, a replica count and a provisioning mode.
package import Foundation
package import GRDB

package struct VolumeRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "volumes"

    package var id: Int64?
    package var name: String
    package var capacityBytes: Int64
    package var replicas: Int64
    package var provisioning: String
    package var createdAt: Date
    package var updatedAt: Date

    package init(name: String, capacityBytes: Int64, replicas: Int64, provisioning: String, createdAt: Date) {
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

    package enum Columns {
        static let name = Column(CodingKeys.name)
    }
}
