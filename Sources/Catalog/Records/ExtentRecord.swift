// Extents map object bytes to physical copies: one ExtentRecord per logical range, one
// ExtentReplicaRecord per copy on a device, or, for an inline extent, the bytes in the row itself
// (`body`; no replica rows: the catalog's own copies hold it). Checksums are crc32c per
// `checksumBlock` bytes.
package import Foundation
package import GRDB

package struct ExtentRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "extents"

    package var id: Int64?
    package var objectId: Int64
    package var logicalOffset: Int64
    package var length: Int64
    package var checksumBlock: Int64
    package var checksums: Data
    /// The extent's bytes when they live in the catalog (an inline extent); nil: on devices.
    package var body: Data?

    package init(
        id: Int64?, objectId: Int64, logicalOffset: Int64, length: Int64, checksumBlock: Int64, checksums: Data, body: Data? = nil
    ) {
        self.body = body
        self.id = id
        self.objectId = objectId
        self.logicalOffset = logicalOffset
        self.length = length
        self.checksumBlock = checksumBlock
        self.checksums = checksums
    }

    /// Read by column name rather than through Codable's decoder (see ObjectRecord).
    package init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        objectId = try row.decode(forColumn: "objectId")
        logicalOffset = try row.decode(forColumn: "logicalOffset")
        length = try row.decode(forColumn: "length")
        checksumBlock = try row.decode(forColumn: "checksumBlock")
        checksums = try row.decode(forColumn: "checksums")
        body = try row.decode(forColumn: "body")
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

package struct ExtentReplicaRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "extent_replicas"

    package var extentId: Int64
    package var deviceId: String
    package var physicalOffset: Int64
    /// Bytes allocated on the device (the extent length rounded up to the device block).
    package var length: Int64

    package init(extentId: Int64, deviceId: String, physicalOffset: Int64, length: Int64) {
        self.extentId = extentId
        self.deviceId = deviceId
        self.physicalOffset = physicalOffset
        self.length = length
    }

    /// Read by column name rather than through Codable's decoder (see ObjectRecord).
    package init(row: Row) throws {
        extentId = try row.decode(forColumn: "extentId")
        deviceId = try row.decode(forColumn: "deviceId")
        physicalOffset = try row.decode(forColumn: "physicalOffset")
        length = try row.decode(forColumn: "length")
    }
}
