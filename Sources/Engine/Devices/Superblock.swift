// The in-memory superblock: which pool a device belongs to and who it is.
// Reading and writing it goes through Device; the byte layout lives in SuperblockFormat.
package import Foundation

package struct Superblock: Sendable, Equatable, CustomStringConvertible {
    package var poolUUID: UUID
    package var deviceUUID: UUID
    package var createdAt: Int64
    package var dataOffset: Int64
    package var deviceSize: Int64

    package var description: String {
        "superblock(pool \(poolUUID.uuidString.lowercased()), device \(deviceUUID.uuidString.lowercased()), data at \(dataOffset))"
    }
}
