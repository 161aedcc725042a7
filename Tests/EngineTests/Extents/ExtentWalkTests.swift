import Testing

// The extent iterator splits a range at extent boundaries and reports holes.
@testable import Engine

@Suite struct ExtentWalkTests {
    static func extent(_ offset: Int64, _ length: Int64) -> Extent {
        Extent(logicalOffset: offset, length: length, checksums: [], replicas: [])
    }

    static let extents = [extent(0, 100), extent(100, 50), extent(200, 10)]

    @Test func splitsAtEveryBoundary() {
        let pieces = Array(ExtentWalk(extents: Self.extents, offset: 90, length: 130))
        #expect(
            pieces == [
                .mapped(index: 0, offsetInExtent: 90, length: 10),
                .mapped(index: 1, offsetInExtent: 0, length: 50),
                .hole(length: 50),
                .mapped(index: 2, offsetInExtent: 0, length: 10),
                .hole(length: 10),
            ])
    }

    @Test func rangeInsideOneExtent() {
        #expect(Array(ExtentWalk(extents: Self.extents, offset: 110, length: 5)) == [.mapped(index: 1, offsetInExtent: 10, length: 5)])
    }

    @Test func piecesAlwaysCoverTheRangeExactly() {
        for offset in stride(from: Int64(0), to: 230, by: 7) {
            for length in [Int64(1), 13, 64, 150] {
                let total = ExtentWalk(extents: Self.extents, offset: offset, length: length).reduce(Int64(0)) { sum, piece in
                    switch piece {
                    case .mapped(_, _, let n), .hole(let n): sum + n
                    }
                }
                #expect(total == length)
            }
        }
    }

    @Test func emptyMapIsOneHole() {
        #expect(Array(ExtentWalk(extents: [], offset: 5, length: 20)) == [.hole(length: 20)])
    }
}
