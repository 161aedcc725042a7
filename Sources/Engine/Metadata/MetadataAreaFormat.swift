// On-disk layout of a device's metadata area (the *_format.h role): one full copy of the catalog,
// its SQLite database and WAL each in a fixed region, behind two header slots.
//
//   area + 0       header slot 0 (4 KiB)      area + 64 KiB           the WAL region (`walBytes`)
//   area + 4 KiB   header slot 1 (4 KiB)      area + 64 KiB + wal     the database region (the rest)
//
// A header says which copy this is: little-endian fields, crc32c over the block.
//
//   0   8  magic "APPLMETA"           56   8  area bytes
//   8   4  format version             64   8  WAL region offset (from the area's start)
//  12   4  (reserved)                 72   8  WAL region bytes
//  16   8  generation                 80   8  database region offset
//  24  16  pool UUID                  88   8  database region bytes
//  40  16  device UUID                96   4  number of copies n (at most `maximumCopies`)
//                                    100   4  (reserved)
//                                    104 16n  the device UUIDs holding the copies, this one among them
//                                   4092   4  crc32c of bytes 0..<4092
//
// Generation g is written to slot g % 2, so a torn header write leaves the other slot (g - 1)
// whole. A copy is current at the highest generation found on the pool's devices; the copy set
// written with it names its peers. The generation rises whenever the set changes.
import Foundation

package enum MetadataAreaFormat {
    static let magic: [UInt8] = Array("APPLMETA".utf8)
    static let version: UInt32 = 1
    static let blockSize = 4096
    static let headerSlots = 2
    /// Where the WAL region starts in the area.
    static let regionsOffset: Int64 = 64 << 10
    static let maximumCopies = 64
    /// The smallest area the appliance makes or accepts.
    package static let minimumBytes: Int64 = 16 << 20
    /// The largest default area. Every copy holds the whole catalog, so the smallest area bounds
    /// the pool's object count (~400 bytes of database an object): a 4 GiB bound stopped a pool of
    /// any size at ~8.4 million small objects; 64 GiB (reached by devices of 2 TiB) holds ~150
    /// million. Only the pages in use are ever written or read.
    static let maximumDefaultBytes: Int64 = 64 << 30

    /// The area a device of `deviceSize` bytes gets unless the operator names a size: 1/32 of
    /// the device, between 16 MiB and 64 GiB, in whole MiB.
    package static func defaultBytes(deviceSize: Int64) -> Int64 {
        let raw = min(max(deviceSize / 32, minimumBytes), maximumDefaultBytes)
        return raw - raw % (1 << 20)
    }

    /// The WAL region of an area of `areaBytes`: a quarter, between 4 and 256 MiB, in 64 KiB.
    static func walBytes(areaBytes: Int64) -> Int64 {
        let raw = min(max(areaBytes / 4, 4 << 20), 256 << 20)
        return raw - raw % (64 << 10)
    }

    /// WAL pages between the catalog's checkpoints: a quarter of the smallest WAL region's frames,
    /// so that a checkpoint held back by readers still finds room.
    package static let walAutocheckpointPages = Int((4 << 20) / (4096 + 24) / 4)

    /// The two regions of an area of `areaBytes` (offsets from the area's start).
    static func regions(areaBytes: Int64) -> (wal: Range<Int64>, database: Range<Int64>) {
        let wal = walBytes(areaBytes: areaBytes)
        return (regionsOffset..<regionsOffset + wal, regionsOffset + wal..<areaBytes)
    }

    struct Header: Equatable {
        var generation: UInt64
        var poolUUID: UUID
        var deviceUUID: UUID
        var areaBytes: Int64
        var copies: [UUID]
    }

    static func encode(_ header: Header, into buffer: UnsafeMutableRawBufferPointer) {
        precondition(buffer.count >= blockSize && header.copies.count <= maximumCopies)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        for (i, byte) in magic.enumerated() { buffer[i] = byte }
        let regions = regions(areaBytes: header.areaBytes)
        HeaderBytes.put(version, at: 8, buffer)
        HeaderBytes.put(header.generation, at: 16, buffer)
        HeaderBytes.putUUID(header.poolUUID, at: 24, buffer)
        HeaderBytes.putUUID(header.deviceUUID, at: 40, buffer)
        HeaderBytes.put(UInt64(header.areaBytes), at: 56, buffer)
        HeaderBytes.put(UInt64(regions.wal.lowerBound), at: 64, buffer)
        HeaderBytes.put(UInt64(regions.wal.count), at: 72, buffer)
        HeaderBytes.put(UInt64(regions.database.lowerBound), at: 80, buffer)
        HeaderBytes.put(UInt64(regions.database.count), at: 88, buffer)
        HeaderBytes.put(UInt32(header.copies.count), at: 96, buffer)
        for (i, copy) in header.copies.enumerated() { HeaderBytes.putUUID(copy, at: 104 + 16 * i, buffer) }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<blockSize - 4]))
        HeaderBytes.put(crc, at: blockSize - 4, buffer)
    }

    /// The header in one slot's block, or nil when the block is not a whole header of this format
    /// (never written, torn, or rotten) or its geometry is not the one this build lays out.
    static func decode(_ buffer: UnsafeRawBufferPointer) -> Header? {
        guard buffer.count >= blockSize, Array(buffer[0..<8]) == magic else { return nil }
        let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<blockSize - 4]))
        guard crc == HeaderBytes.get(UInt32.self, at: blockSize - 4, buffer), HeaderBytes.get(UInt32.self, at: 8, buffer) == version else {
            return nil
        }
        let areaBytes = Int64(truncatingIfNeeded: HeaderBytes.get(UInt64.self, at: 56, buffer))
        let count = Int(HeaderBytes.get(UInt32.self, at: 96, buffer))
        guard areaBytes >= minimumBytes, count <= maximumCopies else { return nil }
        let regions = regions(areaBytes: areaBytes)
        guard HeaderBytes.get(UInt64.self, at: 64, buffer) == UInt64(regions.wal.lowerBound),
            HeaderBytes.get(UInt64.self, at: 72, buffer) == UInt64(regions.wal.count),
            HeaderBytes.get(UInt64.self, at: 80, buffer) == UInt64(regions.database.lowerBound),
            HeaderBytes.get(UInt64.self, at: 88, buffer) == UInt64(regions.database.count)
        else { return nil }
        return Header(
            generation: HeaderBytes.get(UInt64.self, at: 16, buffer), poolUUID: HeaderBytes.getUUID(at: 24, buffer),
            deviceUUID: HeaderBytes.getUUID(at: 40, buffer),
            areaBytes: areaBytes, copies: (0..<count).map { HeaderBytes.getUUID(at: 104 + 16 * $0, buffer) })
    }

    /// The newer of the two slots' headers (the area's first `headerSlots` blocks).
    static func newest(_ area: UnsafeRawBufferPointer) -> Header? {
        (0..<headerSlots).compactMap { slot in
            decode(UnsafeRawBufferPointer(rebasing: area[slot * blockSize..<(slot + 1) * blockSize]))
        }.max { $0.generation < $1.generation }
    }

    static func slot(for generation: UInt64) -> Int { Int(generation % UInt64(headerSlots)) }
}
