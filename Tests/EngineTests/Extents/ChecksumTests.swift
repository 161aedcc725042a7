import Engine
import Testing

@Suite struct ChecksumTests {
    @Test func checkValueOfTheStandardInput() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func emptyInputIsZero() {
        #expect(CRC32C.checksum([]) == 0)
    }

    /// RFC 3720 (iSCSI) appendix B.4 vectors: 32-byte inputs.
    static let rfc3720: [([UInt8], UInt32)] = [
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
    ]

    @Test(arguments: rfc3720)
    func rfc3720Vectors(bytes: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(bytes) == expected)
    }

    @Test(arguments: [1, 3, 7, 8, 9, 15, 16, 17, 500, 1023])
    func seedContinuesAChecksumAtAnySplit(split: Int) {
        let bytes = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = CRC32C.checksum(bytes)
        let head = CRC32C.checksum(Array(bytes[..<split]))
        let chained = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[split...]), seed: head) }
        #expect(chained == whole)
    }

    @Test func unalignedStartGivesTheSameChecksum() {
        let bytes = (0..<4099).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        for start in 1..<8 {
            let viaSlice = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
            #expect(viaSlice == CRC32C.checksum(Array(bytes[start...])), "start \(start)")
        }
        #expect(CRC32C.checksum(bytes) != CRC32C.checksum(Array(bytes[1...])))
    }
}
