// The in-memory superblock: which pool a device belongs to and who it is.
// Reading and writing it goes through Device; the byte layout lives in SuperblockFormat.
package import Foundation

package struct Superblock: Sendable, Equatable, CustomStringConvertible {
    package var poolUUID: UUID
    package var deviceUUID: UUID
    package var createdAt: Int64
    package var dataOffset: Int64
    package var deviceSize: Int64
    /// Where the device's metadata area starts and how long it is (0 and 0: a device added
    /// before metadata areas existed).
    package var metadataOffset: Int64 = 0
    package var metadataBytes: Int64 = 0
    /// The epoch under which a fleet's node last took the pool (0: never in a fleet).
    package var fleetEpoch: Int64 = 0

    /// The metadata area, if the device has a usable one: after the superblock area and before
    /// the data (a device added with an area), or at the device's end past its data (a device from
    /// before areas, given the free tail of its data area).
    package var metadataArea: Range<Int64>? {
        guard metadataOffset >= SuperblockFormat.reservedArea, metadataBytes >= MetadataAreaFormat.minimumBytes,
            metadataOffset <= deviceSize - metadataBytes,
            metadataOffset + metadataBytes <= dataOffset || metadataOffset >= dataOffset
        else { return nil }
        return metadataOffset..<metadataOffset + metadataBytes
    }

    package var description: String {
        "superblock(pool \(poolUUID.uuidString.lowercased()), device \(deviceUUID.uuidString.lowercased()), data at \(dataOffset))"
    }
}
