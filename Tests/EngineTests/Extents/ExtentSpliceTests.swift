import Testing

// Copy-on-write splicing: retained pieces keep their (narrowed) copies, the rest is freed.
@testable import Engine

@Suite struct ExtentSpliceTests {
    static let block = Extent.checksumBlock

    static func extent(_ offset: Int64, _ length: Int64, device: String, at physical: Int64) -> Extent {
        let blocks = Int((length + block - 1) / block)
        return Extent(
            logicalOffset: offset, length: length, checksums: (0..<blocks).map { UInt32($0) + UInt32(offset / block) * 100 },
            replicas: [PhysicalRange(deviceID: device, offset: physical, length: Int64(blocks) * block)])
    }

    @Test func overwriteInTheMiddleSplitsAndFreesTheHole() {
        let old = [Self.extent(0, 4 * Self.block, device: "d", at: 100 * Self.block)]
        let new = [Self.extent(Self.block, Self.block, device: "d", at: 500 * Self.block)]
        let (merged, freed) = ExtentSplice.splice(old: old, new: new, size: 4 * Self.block)
        #expect(merged.map(\.logicalOffset) == [0, Self.block, 2 * Self.block])
        #expect(merged.map(\.length) == [Self.block, Self.block, 2 * Self.block])
        #expect(merged[2].replicas == [PhysicalRange(deviceID: "d", offset: 102 * Self.block, length: 2 * Self.block)])
        #expect(merged[2].checksums == [2, 3])
        #expect(freed == [PhysicalRange(deviceID: "d", offset: 101 * Self.block, length: Self.block)])
    }

    @Test func aShortTailKeepsItsPaddedBlock() {
        let old = [Self.extent(0, 2 * Self.block + 10, device: "d", at: 0)]
        let new = [Self.extent(0, Self.block, device: "e", at: 0)]
        let (merged, freed) = ExtentSplice.splice(old: old, new: new, size: 2 * Self.block + 10)
        #expect(merged.count == 2)
        #expect(merged[1].length == Self.block + 10)
        #expect(merged[1].replicas[0].length == 2 * Self.block)
        #expect(freed == [PhysicalRange(deviceID: "d", offset: 0, length: Self.block)])
    }

    @Test func fullOverlapFreesEverything() {
        let old = [Self.extent(0, Self.block, device: "d", at: 0), Self.extent(Self.block, Self.block, device: "d", at: 8 * Self.block)]
        let new = [Self.extent(0, 2 * Self.block, device: "e", at: 0)]
        let (merged, freed) = ExtentSplice.splice(old: old, new: new, size: 2 * Self.block)
        #expect(merged == new)
        #expect(freed.reduce(0) { $0 + $1.length } == 2 * Self.block)
    }

    @Test func growingPastTheEndKeepsOldData() {
        let old = [Self.extent(0, 100, device: "d", at: 0)]
        let new = [Self.extent(3 * Self.block, Self.block, device: "d", at: 16 * Self.block)]
        let (merged, freed) = ExtentSplice.splice(old: old, new: new, size: 4 * Self.block)
        #expect(merged.count == 2)
        #expect(freed.isEmpty)
    }
}
