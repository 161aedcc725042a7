// One object version: a key in a volume with its size, ETag and content type. Its bytes are extents.
package import Foundation
package import GRDB

package struct ObjectRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "objects"

    package var id: Int64?
    package var volumeId: Int64
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?
    package var createdAt: Date
    package var modifiedAt: Date

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
