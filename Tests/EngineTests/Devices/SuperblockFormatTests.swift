import Foundation
import Testing

@testable import Engine

@Suite struct SuperblockFormatTests {
    static let sample = Superblock(
        poolUUID: UUID(uuidString: "11111111-2222-3333-4444-555555555555")!,
        deviceUUID: UUID(uuidString: "AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE")!,
        createdAt: 1_700_000_000, dataOffset: SuperblockFormat.reservedArea, deviceSize: 128 << 20)

    static func encoded() -> [UInt8] {
        let buffer = AlignedBuffer(count: SuperblockFormat.blockSize)
        SuperblockFormat.encode(sample, into: buffer.bytes)
        return Array(buffer.bytes)
    }

    static func decode(_ bytes: [UInt8]) -> SuperblockFormat.Decoded {
        bytes.withUnsafeBytes { SuperblockFormat.decode($0) }
    }

    @Test func encodeThenDecodeRoundTrips() {
        let bytes = Self.encoded()
        #expect(Array(bytes[0..<8]) == SuperblockFormat.magic)
        #expect(Array(bytes[64..<72]) == [0, 0, 0x10, 0, 0, 0, 0, 0])  // Data offset 1 MiB, little-endian.
        #expect(Self.decode(bytes) == .superblock(Self.sample))
    }

    @Test func allZeroBlockIsBlank() {
        #expect(Self.decode([UInt8](repeating: 0, count: SuperblockFormat.blockSize)) == .blank)
    }

    @Test func randomBytesAreForeignData() {
        #expect(Self.decode(Scratch.randomBytes(SuperblockFormat.blockSize)) == .foreignData)
    }

    @Test(arguments: [8, 30, 45, 70, 100, 4000, SuperblockFormat.checksumOffset + 1])
    func flippedByteIsForeignData(offset: Int) {
        var bytes = Self.encoded()
        bytes[offset] ^= 0x01
        #expect(Self.decode(bytes) == .foreignData)
    }
}
