// On-disk layout of the superblock (the *_format.h role): little-endian fields in the first 4 KiB
// of the device; the rest of the first 1 MiB is reserved; the metadata area (the catalog's copy,
// MetadataAreaFormat) follows it, and data starts at `dataOffset`.
//
//   0   8  magic "APPLSB\0\u{1}"      40  16  device UUID
//   8   4  format version             56   8  created (unix seconds)
//  12   4  header bytes covered       64   8  data offset
//  16   8  fleet epoch (0: never in)  72   8  device size in bytes at format time
//  24  16  pool UUID                  80   8  metadata area offset (0: none, a device from before areas)
//                                     88   8  metadata area bytes
//                                     4092 4  crc32c of bytes 0..<4092
// Older builds read the area as reserved bytes and keep out of it: their data starts at `dataOffset`.
// The fleet epoch is the epoch under which a node of a fleet last took the pool (written at each
// taking, before anything else): a node that finds a newer one than its own has lost the pool.
import Foundation

enum SuperblockFormat {
    static let magic: [UInt8] = [0x41, 0x50, 0x50, 0x4C, 0x53, 0x42, 0x00, 0x01]
    static let version: UInt32 = 1
    static let blockSize = 4096
    static let reservedArea: Int64 = 1 << 20
    static let checksumOffset = blockSize - 4

    static func encode(_ sb: Superblock, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= blockSize)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for (i, byte) in magic.enumerated() { buffer[i] = byte }
        HeaderBytes.put(UInt32(version), at: 8, buffer)
        HeaderBytes.put(UInt32(96), at: 12, buffer)
        HeaderBytes.put(UInt64(sb.fleetEpoch), at: 16, buffer)
        HeaderBytes.putUUID(sb.poolUUID, at: 24, buffer)
        HeaderBytes.putUUID(sb.deviceUUID, at: 40, buffer)
        HeaderBytes.put(UInt64(sb.createdAt), at: 56, buffer)
        HeaderBytes.put(UInt64(sb.dataOffset), at: 64, buffer)
        HeaderBytes.put(UInt64(sb.deviceSize), at: 72, buffer)
        HeaderBytes.put(UInt64(sb.metadataOffset), at: 80, buffer)
        HeaderBytes.put(UInt64(sb.metadataBytes), at: 88, buffer)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<checksumOffset]))
        HeaderBytes.put(crc, at: checksumOffset, buffer)
    }

    enum Decoded: Equatable {
        case blank
        case superblock(Superblock)
        /// Non-zero bytes that are not a valid superblock of ours.
        case foreignData
    }

    static func decode(_ buffer: UnsafeRawBufferPointer) -> Decoded {
        precondition(buffer.count >= blockSize)
        let head = UnsafeRawBufferPointer(rebasing: buffer[0..<blockSize])
        guard Array(head[0..<8]) == magic else {
            return head.allSatisfy { $0 == 0 } ? .blank : .foreignData
        }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: head[0..<checksumOffset]))
        guard crc == HeaderBytes.get(UInt32.self, at: checksumOffset, head), HeaderBytes.get(UInt32.self, at: 8, head) == version else {
            return .foreignData
        }
        return .superblock(
            Superblock(
                poolUUID: HeaderBytes.getUUID(at: 24, head), deviceUUID: HeaderBytes.getUUID(at: 40, head),
                createdAt: Int64(HeaderBytes.get(UInt64.self, at: 56, head)), dataOffset: Int64(HeaderBytes.get(UInt64.self, at: 64, head)),
                deviceSize: Int64(HeaderBytes.get(UInt64.self, at: 72, head)),
                metadataOffset: Int64(truncatingIfNeeded: HeaderBytes.get(UInt64.self, at: 80, head)),
                metadataBytes: Int64(truncatingIfNeeded: HeaderBytes.get(UInt64.self, at: 88, head)),
                fleetEpoch: Int64(truncatingIfNeeded: HeaderBytes.get(UInt64.self, at: 16, head))))
    }
}
