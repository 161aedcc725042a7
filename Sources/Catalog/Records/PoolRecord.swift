// The single row describing this pool: its UUID, written into every member's superblock.
package import Foundation
import GRDB

package struct PoolRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "pool"
    package var id: Int64 = 1
    package var uuid: String
    package var createdAt: Date
    /// When the first start finished creating the default devices; nil until then.
    package var defaultDevicesAddedAt: Date?

    package init(uuid: String, createdAt: Date) {
        self.uuid = uuid
        self.createdAt = createdAt
    }

    package enum Columns {
        static let uuid = Column(CodingKeys.uuid)
    }
}
