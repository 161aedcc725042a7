// The in-memory extent: a logical range of an object, its crc32c per 4 KiB block, and one
// physical copy per replica. The one place where extents and copies are mapped to and from the
// catalog's records (StoredExtent and ExtentReplicaRecord in, NewExtent out).
import Catalog
import Foundation

package struct Extent: Sendable, Equatable, CustomStringConvertible {
    package static let checksumBlock: Int64 = 4096

    package var logicalOffset: Int64
    package var length: Int64
    /// One crc32c per `checksumBlock` bytes of the zero-padded extent.
    package var checksums: [UInt32]
    package var replicas: [PhysicalRange]

    package var logicalEnd: Int64 { logicalOffset + length }

    package var description: String { "extent(\(logicalOffset)+\(length) on \(replicas))" }

    init(_ stored: StoredExtent) {
        logicalOffset = stored.record.logicalOffset
        length = stored.record.length
        checksums = Self.decodeChecksums(stored.record.checksums)
        replicas = stored.replicas.map(PhysicalRange.init)
    }

    /// An extent just written, as the catalog will record it.
    init(_ new: NewExtent) {
        logicalOffset = new.logicalOffset
        length = new.length
        checksums = Self.decodeChecksums(new.checksums)
        replicas = new.replicas.map { PhysicalRange(deviceID: $0.deviceID, offset: $0.offset, length: $0.length) }
    }

    /// The record the catalog commits for this extent.
    var record: NewExtent {
        NewExtent(
            logicalOffset: logicalOffset, length: length, checksumBlock: Self.checksumBlock, checksums: Self.encodeChecksums(checksums),
            replicas: replicas.map { ($0.deviceID, $0.offset, $0.length) })
    }

    init(logicalOffset: Int64, length: Int64, checksums: [UInt32], replicas: [PhysicalRange]) {
        self.logicalOffset = logicalOffset
        self.length = length
        self.checksums = checksums
        self.replicas = replicas
    }

    /// Whether `bytes` (whole checksum blocks read from `offsetInExtent`, block aligned) match
    /// this extent's checksums.
    func verifies(_ bytes: UnsafeRawBufferPointer, offsetInExtent: Int64) -> Bool {
        let block = Int(Self.checksumBlock)
        let first = Int(offsetInExtent) / block
        for i in 0..<bytes.count / block
        where CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[i * block..<(i + 1) * block])) != checksums[first + i] {
            return false
        }
        return true
    }

    static func encodeChecksums(_ checksums: [UInt32]) -> Data {
        var data = Data(capacity: checksums.count * 4)
        for crc in checksums { withUnsafeBytes(of: crc.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func decodeChecksums(_ data: Data) -> [UInt32] {
        data.withUnsafeBytes { raw in
            (0..<raw.count / 4).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
    }
}

extension PhysicalRange {
    /// A copy as the catalog records it.
    init(_ replica: ExtentReplicaRecord) {
        self.init(deviceID: replica.deviceId, offset: replica.physicalOffset, length: replica.length)
    }
}
