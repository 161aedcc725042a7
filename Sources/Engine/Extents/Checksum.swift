// crc32c (Castagnoli) via the CCRC32C target: SSE4.2 `crc32` when the CPU has it, a table otherwise.
// Used for superblocks now and data blocks with the extent map.
import CCRC32C

package enum CRC32C {
    /// crc32c of `bytes`, continuing from `seed` (the previous result; 0 to start), like zlib's crc32.
    package static func checksum(_ bytes: UnsafeRawBufferPointer, seed: UInt32 = 0) -> UInt32 {
        appliance_crc32c(seed, bytes.baseAddress, bytes.count)
    }

    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
