// Little-endian integers and UUIDs at fixed offsets of an on-disk header block (the superblock,
// the metadata area's headers).
import Foundation

enum HeaderBytes {
    static func put<T: FixedWidthInteger>(_ value: T, at offset: Int, _ buffer: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: value.littleEndian) { src in
            for (i, b) in src.enumerated() { buffer[offset + i] = b }
        }
    }

    static func get<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ buffer: UnsafeRawBufferPointer) -> T {
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { dst in
            for i in 0..<MemoryLayout<T>.size { dst[i] = buffer[offset + i] }
        }
        return T(littleEndian: value)
    }

    static func putUUID(_ uuid: UUID, at offset: Int, _ buffer: UnsafeMutableRawBufferPointer) {
        withUnsafeBytes(of: uuid.uuid) { src in
            for (i, b) in src.enumerated() { buffer[offset + i] = b }
        }
    }

    static func getUUID(at offset: Int, _ buffer: UnsafeRawBufferPointer) -> UUID {
        var raw: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &raw) { dst in
            for i in 0..<16 { dst[i] = buffer[offset + i] }
        }
        return UUID(uuid: raw)
    }
}
