// How much of an SQLite WAL is whole (the file format's checksum chain, as SQLite's own recovery
// reads it): the header, then frames whose salts match the header's and whose running checksum
// continues from the frame before; only frames up to the last commit frame count. The mirror
// compares its copies' WALs with it at open, so that a copy whose WAL lost or garbled a frame does
// not cut committed transactions short.
enum WALChain {
    static let headerBytes = 32
    static let frameHeaderBytes = 24

    /// The bytes of the WAL through its last valid commit frame (0: no valid WAL). `read` fills a
    /// buffer from a byte offset of the WAL and returns false past its end or on an error.
    static func committedLength(capacity: Int64, read: (UnsafeMutableRawBufferPointer, Int64) -> Bool) -> Int64 {
        var header = [UInt8](repeating: 0, count: headerBytes)
        guard header.withUnsafeMutableBytes({ read($0, 0) }) else { return 0 }
        let magic = word(header, 0)
        guard magic & 0xFFFF_FFFE == 0x377F_0682 else { return 0 }
        let bigEndian = magic & 1 == 1
        let pageSize = Int(word(header, 8))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else { return 0 }
        var sums = checksum(header[0..<24], bigEndian: bigEndian, seed: (0, 0))
        guard sums == (word(header, 24), word(header, 28)) else { return 0 }
        let salts = (word(header, 16), word(header, 20))
        var committed = Int64(headerBytes)
        var offset = Int64(headerBytes)
        var frame = [UInt8](repeating: 0, count: frameHeaderBytes + pageSize)
        while offset + Int64(frame.count) <= capacity {
            guard frame.withUnsafeMutableBytes({ read($0, offset) }) else { break }
            guard (word(frame, 8), word(frame, 12)) == salts else { break }
            sums = checksum(frame[0..<8], bigEndian: bigEndian, seed: sums)
            sums = checksum(frame[frameHeaderBytes...], bigEndian: bigEndian, seed: sums)
            guard sums == (word(frame, 16), word(frame, 20)) else { break }
            offset += Int64(frame.count)
            if word(frame, 4) != 0 { committed = offset }  // a commit frame: the database size after it
        }
        return committed
    }

    private static func word(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// SQLite's WAL checksum: pairs of 32-bit words in the byte order the magic names.
    private static func checksum(_ bytes: ArraySlice<UInt8>, bigEndian: Bool, seed: (UInt32, UInt32)) -> (UInt32, UInt32) {
        var (s0, s1) = seed
        var i = bytes.startIndex
        while i + 8 <= bytes.endIndex {
            let x0: UInt32, x1: UInt32
            if bigEndian {
                x0 = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
                x1 = UInt32(bytes[i + 4]) << 24 | UInt32(bytes[i + 5]) << 16 | UInt32(bytes[i + 6]) << 8 | UInt32(bytes[i + 7])
            } else {
                x0 = UInt32(bytes[i + 3]) << 24 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i])
                x1 = UInt32(bytes[i + 7]) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 5]) << 8 | UInt32(bytes[i + 4])
            }
            s0 = s0 &+ x0 &+ s1
            s1 = s1 &+ x1 &+ s0
            i += 8
        }
        return (s0, s1)
    }
}
