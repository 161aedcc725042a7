// The in-memory extent: a logical range of an object, its crc32c per 4 KiB block, and one
// physical copy per replica — or, for an inline extent, none: its bytes live in its catalog row,
// on as many devices as the catalog has copies. The one place where extents and copies are mapped
// to and from the catalog's records (StoredExtent and ExtentReplicaRecord in, NewExtent out).
import Catalog
import Foundation

package struct Extent: Sendable, Equatable, CustomStringConvertible {
    package static let checksumBlock: Int64 = 4096

    package var logicalOffset: Int64
    package var length: Int64
    /// One crc32c per `checksumBlock` bytes of the zero-padded extent.
    package var checksums: [UInt32]
    package var replicas: [PhysicalRange]
    /// An inline extent's catalog row (its bytes are there); nil for an extent on devices.
    package var inlineID: Int64?
    /// An inline extent's bytes, when at hand (just read from the catalog, or about to be
    /// committed); a cached object keeps its extents without them (`withoutBody`).
    var body: Data?

    package var logicalEnd: Int64 { logicalOffset + length }
    package var isInline: Bool { inlineID != nil || body != nil }

    package var description: String {
        isInline
            ? "extent(\(logicalOffset)+\(length) inline \(inlineID.map(String.init) ?? "new"))" : "extent(\(logicalOffset)+\(length) on \(replicas))"
    }

    init(_ stored: StoredExtent) {
        logicalOffset = stored.record.logicalOffset
        length = stored.record.length
        checksums = Self.decodeChecksums(stored.record.checksums)
        replicas = stored.replicas.map(PhysicalRange.init)
        if let body = stored.record.body {
            inlineID = stored.record.id
            self.body = body
        }
    }

    /// An extent just written, as the catalog will record it.
    init(_ new: NewExtent) {
        logicalOffset = new.logicalOffset
        length = new.length
        checksums = Self.decodeChecksums(new.checksums)
        replicas = new.replicas.map { PhysicalRange(deviceID: $0.deviceID, offset: $0.offset, length: $0.length) }
        body = new.body
    }

    /// A new inline extent holding `bytes` (the object's first `length` bytes, zero-padded to
    /// whole checksum blocks); the catalog row gets `length` bytes.
    init(inline bytes: UnsafeRawBufferPointer, length: Int) {
        let block = Int(Self.checksumBlock)
        precondition(bytes.count % block == 0 && bytes.count >= length)
        logicalOffset = 0
        self.length = Int64(length)
        checksums = Self.checksums(of: UnsafeRawBufferPointer(rebasing: bytes[0..<(length + block - 1) / block * block]))
        replicas = []
        body = Data(bytes[0..<length])
    }

    /// The record the catalog commits for this extent.
    var record: NewExtent {
        NewExtent(
            logicalOffset: logicalOffset, length: length, checksumBlock: Self.checksumBlock, checksums: Self.encodeChecksums(checksums),
            replicas: replicas.map { ($0.deviceID, $0.offset, $0.length) }, body: body)
    }

    /// The extent as a cached object keeps it: an inline one without its bytes (read again from
    /// the catalog when needed), so cached entries do not hold bodies beside their pages.
    var withoutBody: Extent {
        var extent = self
        extent.body = nil
        return extent
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

    /// One crc32c per checksum block of `bytes` (whole blocks).
    static func checksums(of bytes: UnsafeRawBufferPointer) -> [UInt32] {
        let block = Int(checksumBlock)
        return (0..<bytes.count / block).map { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[$0 * block..<($0 + 1) * block])) }
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
