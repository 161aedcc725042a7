// A volume snapshot: a name for the epoch it closed. It sees every row of its volume born at or
// before that epoch and not deleted in it (`ObjectRecord.bornEpoch`, `diedEpoch`).
package import Foundation
package import GRDB

package struct SnapshotRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "snapshots"

    package var id: Int64?
    package var volumeId: Int64
    package var name: String
    package var epoch: Int64
    package var createdAt: Date

    package init(volumeId: Int64, name: String, epoch: Int64, createdAt: Date) {
        self.volumeId = volumeId
        self.name = name
        self.epoch = epoch
        self.createdAt = createdAt
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
