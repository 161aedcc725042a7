import Foundation
import Testing

// The S3 checksums against their published check values ("123456789"), and the same value
// whatever the chunking of the input.
@testable import API

@Suite struct S3ChecksumTests {
    static let check = Array("123456789".utf8)

    static func hex(_ algorithm: S3ChecksumAlgorithm, _ bytes: [UInt8]) -> String {
        Data(base64Encoded: S3Checksum.of(algorithm, bytes))!.hexString
    }

    @Test func checkValues() {
        #expect(Self.hex(.crc32, Self.check) == "cbf43926")
        #expect(Self.hex(.crc32c, Self.check) == "e3069283")
        #expect(Self.hex(.crc64nvme, Self.check) == "ae8b14860a799888")
        #expect(Self.hex(.sha1, Self.check) == "f7c3bc1d808e04732adf679965ccc34ca7ae3441")
        #expect(Self.hex(.sha256, Self.check) == "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225")
        #expect(Self.hex(.crc32, []) == "00000000")
        // What boto3 sent for 1000 bytes of "x" (recorded from a real upload).
        #expect(S3Checksum.of(.crc32, [UInt8](repeating: UInt8(ascii: "x"), count: 1000)) == "O0HJ5g==")
        #expect(S3Checksum.of(.crc64nvme, [UInt8](repeating: UInt8(ascii: "x"), count: 1000)) == "RH9Kj0hgZpY=")
    }

    @Test(arguments: S3ChecksumAlgorithm.allCases)
    func chunkingDoesNotMatter(_ algorithm: S3ChecksumAlgorithm) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<10_007).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let whole = S3Checksum.of(algorithm, bytes)
        var running = S3Checksum(algorithm)
        var offset = 0
        while offset < bytes.count {
            let n = min(Int.random(in: 1...97, using: &generator), bytes.count - offset)
            bytes[offset..<offset + n].withUnsafeBytes { running.update($0) }
            offset += n
        }
        #expect(running.finalize() == whole)
        #expect(Data(base64Encoded: whole)!.count == algorithm.digestBytes)
    }
}
