// On-disk layout of the superblock (the *_format.h role): little-endian fields in the first 4 KiB
// of the device; the rest of the first 1 MiB is reserved; data starts at `dataOffset`.
//
//   0   8  magic "APPLSB\0\u{1}"      40  16  device UUID
//   8   4  format version             56   8  created (unix seconds)
//  12   4  header bytes covered       64   8  data offset
//  16   8  (reserved)                 72   8  device size in bytes at format time
//  24  16  pool UUID                  4092 4  crc32c of bytes 0..<4092
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
        put(UInt32(version), at: 8, buffer)
        put(UInt32(80), at: 12, buffer)
        putUUID(sb.poolUUID, at: 24, buffer)
        putUUID(sb.deviceUUID, at: 40, buffer)
        put(UInt64(sb.createdAt), at: 56, buffer)
        put(UInt64(sb.dataOffset), at: 64, buffer)
        put(UInt64(sb.deviceSize), at: 72, buffer)
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<checksumOffset]))
        put(crc, at: checksumOffset, buffer)
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
        guard crc == get(UInt32.self, at: checksumOffset, head), get(UInt32.self, at: 8, head) == version else {
            return .foreignData
        }
        return .superblock(Superblock(
            poolUUID: getUUID(at: 24, head), deviceUUID: getUUID(at: 40, head),
            createdAt: Int64(get(UInt64.self, at: 56, head)), dataOffset: Int64(get(UInt64.self, at: 64, head)),
            deviceSize: Int64(get(UInt64.self, at: 72, head))))
    }

    private static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, _ buffer: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: value.littleEndian) { src in
            for (i, b) in src.enumerated() { buffer[offset + i] = b }
        }
    }

    private static func get<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ buffer: UnsafeRawBufferPointer) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { dst in
            for i in 0..<MemoryLayout<T>.size { dst[i] = buffer[offset + i] }
        }
        return T(littleEndian: value)
    }

    private static func putUUID(_ uuid: UUID, at offset: Int, _ buffer: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: uuid.uuid) { src in
            for (i, b) in src.enumerated() { buffer[offset + i] = b }
        }
    }

    private static func getUUID(at offset: Int, _ buffer: UnsafeRawBufferPointer) -> UUID {
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { dst in
            for i in 0..<16 { dst[i] = buffer[offset + i] }
        }
        return UUID(uuid: raw)
    }
}
