// The SSE4.2 crc32c against its table fallback and the standard check values.
import CCRC32C
import Engine
import Testing

@Suite struct ChecksumHardwareTests {
    @Test func knownVector() {
        let bytes = Array("123456789".utf8)
        #expect(appliance_crc32c(0, bytes, bytes.count) == 0xE306_9283)
        #expect(appliance_crc32c_portable(0, bytes, bytes.count) == 0xE306_9283)
        #expect(CRC32C.checksum(bytes) == 0xE306_9283)
        // RFC 3720 (iSCSI) B.4: 32 bytes of zeros.
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(appliance_crc32c(0, nil, 0) == 0)
    }

    @Test func chainingMatchesTheWholeInput() {
        let head = Array("1234".utf8)
        let tail = Array("56789".utf8)
        let chained = appliance_crc32c(appliance_crc32c(0, head, head.count), tail, tail.count)
        #expect(chained == 0xE306_9283)
        let viaSwift = tail.withUnsafeBytes { CRC32C.checksum($0, seed: CRC32C.checksum(head)) }
        #expect(viaSwift == 0xE306_9283)
    }

    @Test func hardwareAgreesWithTheTableOnOddLengthsAndOffsets() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<(1 << 20) + 64).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for round in 0..<300 {
                let offset = Int.random(in: 0..<16, using: &generator)
                // Odd and even lengths, around the three-way stretches (3 x 256 and 3 x 8192 bytes).
                let length =
                    switch round % 3 {
                    case 0: round == 0 ? 1 << 20 : Int.random(in: 0...5000, using: &generator) | 1
                    case 1: Int.random(in: 0...80_000, using: &generator)
                    default: [767, 768, 769, 4096, 24_575, 24_576, 24_577, 65_536][round / 3 % 8] + Int.random(in: 0...1, using: &generator) * 8
                    }
                let seed = UInt32.random(in: 0...UInt32.max, using: &generator)
                let slice = UnsafeRawBufferPointer(rebasing: all[offset..<offset + length])
                let hardware = appliance_crc32c(seed, slice.baseAddress, slice.count)
                #expect(hardware == appliance_crc32c_portable(seed, slice.baseAddress, slice.count))
                #expect(hardware == CRC32C.checksum(slice, seed: seed))
            }
        }
    }
}
