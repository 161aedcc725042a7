// One member device of the pool. `state` is a typed column (its raw name; the schema CHECKs the
// set): a row with a name this build does not know fails to decode, loudly.
package import Foundation
import GRDB

package struct DeviceRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "devices"

    package var id: String
    package var path: String
    package var label: String?
    package var state: State
    /// Usable data bytes (after the superblock area).
    package var capacityBytes: Int64
    package var logicalBlockSize: Int64
    /// Byte offset on the device where data starts.
    package var dataOffset: Int64
    package var createdAt: Date

    package init(
        id: String, path: String, label: String?, state: State, capacityBytes: Int64,
        logicalBlockSize: Int64, dataOffset: Int64, createdAt: Date
    ) {
        self.id = id
        self.path = path
        self.label = label
        self.state = state
        self.capacityBytes = capacityBytes
        self.logicalBlockSize = logicalBlockSize
        self.dataOffset = dataOffset
        self.createdAt = createdAt
    }

    /// The state the operator chose (the catalog never stores the engine's `failed` finding; the
    /// schema allows it, as rows from early builds may hold it).
    package enum State: String, Codable, Sendable, CaseIterable, DatabaseValueConvertible {
        case active, readonly, draining, failed
    }

    package enum Columns {
        static let id = Column(CodingKeys.id)
        static let path = Column(CodingKeys.path)
        static let state = Column(CodingKeys.state)
    }
}

extension DerivableRequest<DeviceRecord> {
    func orderedByCreation() -> Self { order(Column("createdAt"), Column("id")) }
}
