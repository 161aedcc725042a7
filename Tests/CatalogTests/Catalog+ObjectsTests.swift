import Foundation
import Testing

@testable import Catalog

@Suite struct CatalogObjectsTests {
    /// An object is read back as committed in one statement: its row, its extents in logical
    /// order each with its replicas by device, an inline extent's body without replicas, and an
    /// empty object with no extent.
    @Test func anObjectReadsBackWithItsExtentsAndReplicas() throws {
        let catalog = try Catalog.inMemory()
        for id in ["d1", "d2", "d3"] { try catalog.insertDevice(Fixture.device(id)) }
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 2)) { _ in }.record
        let attributes = ObjectAttributes(metadata: ["x-amz-meta-a": "b"], checksums: ["CRC32C": "AAAAAA=="])
        let extents = [
            NewExtent(
                logicalOffset: 8192, length: 4096, checksumBlock: 4096, checksums: Data([9, 9, 9, 9]),
                replicas: [(deviceID: "d3", offset: 1 << 20, length: 4096), (deviceID: "d1", offset: 2 << 20, length: 4096)]),
            NewExtent(
                logicalOffset: 0, length: 8192, checksumBlock: 4096, checksums: Data([1, 2, 3, 4, 5, 6, 7, 8]),
                replicas: [(deviceID: "d2", offset: 3 << 20, length: 8192), (deviceID: "d1", offset: 4 << 20, length: 8192)]),
        ]
        let version = ObjectVersion(volumeID: volume.id!, key: "many", size: 12288, etag: "e1", contentType: "text/plain", attributes: attributes)
        _ = try catalog.commitObject(version, extents: extents, now: Fixture.now) { _ in }
        let stored = try #require(try catalog.object(volumeID: volume.id!, key: "many"))
        #expect(stored.record.key == "many" && stored.record.size == 12288 && stored.record.etag == "e1")
        #expect(stored.record.contentType == "text/plain" && stored.record.createdAt == Fixture.now)
        #expect(stored.record.attributes == attributes)
        #expect(stored.extents.map(\.record.logicalOffset) == [0, 8192])
        #expect(stored.extents.map(\.record.checksums) == [Data([1, 2, 3, 4, 5, 6, 7, 8]), Data([9, 9, 9, 9])])
        #expect(stored.extents.map { $0.replicas.map(\.deviceId) } == [["d1", "d2"], ["d1", "d3"]])
        #expect(stored.extents[0].replicas.map(\.physicalOffset) == [4 << 20, 3 << 20])
        #expect(stored.extents.allSatisfy { $0.record.body == nil })

        let body = Data(repeating: 7, count: 3000)
        let inline = NewExtent(logicalOffset: 0, length: 3000, checksumBlock: 4096, checksums: Data([1, 1, 1, 1]), replicas: [], body: body)
        _ = try catalog.commitObject(
            ObjectVersion(volumeID: volume.id!, key: "inline", size: 3000, etag: "e2", contentType: nil), extents: [inline], now: Fixture.now
        ) { _ in }
        let small = try #require(try catalog.object(volumeID: volume.id!, key: "inline"))
        #expect(small.extents.count == 1 && small.extents[0].record.body == body && small.extents[0].replicas.isEmpty)

        _ = try catalog.commitObject(
            ObjectVersion(volumeID: volume.id!, key: "empty", size: 0, etag: "e3", contentType: nil), extents: [], now: Fixture.now
        ) { _ in }
        let empty = try #require(try catalog.object(volumeID: volume.id!, key: "empty"))
        #expect(empty.record.size == 0 && empty.extents.isEmpty)
        #expect(try catalog.object(volumeID: volume.id!, key: "missing") == nil)
    }

    /// Every replica of every object comes back, on its device at its offset and length.
    @Test func allReplicasAreListed() throws {
        let catalog = try Catalog.inMemory()
        for id in ["d1", "d2"] { try catalog.insertDevice(Fixture.device(id)) }
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 2)) { _ in }.record
        var expected = Set<String>()
        for i in 0..<50 {
            let offset = Int64(i) << 20
            let extent = NewExtent(
                logicalOffset: 0, length: 4096, checksumBlock: 4096, checksums: Data([1, 2, 3, 4]),
                replicas: [(deviceID: "d1", offset: offset, length: 4096), (deviceID: "d2", offset: offset + 8192, length: 8192)])
            _ = try catalog.commitObject(
                ObjectVersion(volumeID: volume.id!, key: "k\(i)", size: 4096, etag: "e", contentType: nil), extents: [extent], now: Fixture.now
            ) { _ in }
            expected.formUnion(["d1@\(offset)+4096", "d2@\(offset + 8192)+8192"])
        }
        let listed = try catalog.allExtentReplicas()
        #expect(listed.count == 100)
        #expect(Set(listed.map { "\($0.deviceId)@\($0.physicalOffset)+\($0.length)" }) == expected)
    }

    /// A listing is the volume's keys in byte order, after `startAfter`, starting with `prefix`
    /// (a byte prefix: "e" does not list "\u{E9}"), at most `limit`: against a model, on keys of
    /// one- to four-byte characters (U+10FFFF among them, the largest), prefixes cut from the
    /// keys, and another volume's keys in between.
    @Test func listingsMatchAModelOfByteOrderedKeys() throws {
        let catalog = try Catalog.inMemory()
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 1)) { _ in }.record
        let other = try catalog.createVolume(Fixture.volume("other", capacity: 1 << 30, replicas: 1)) { _ in }.record
        let alphabet: [String] = ["a", "b", "e", "/", "\u{E9}", "e\u{301}", "\u{65E5}", "\u{1F600}", "\u{10FFFF}", "~", "0"]
        var generator = Seeded(state: 23)
        func randomKey() -> String { (0..<Int.random(in: 1...5, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined() }
        var keys = Set<[UInt8]>()
        for _ in 0..<300 {
            let key = randomKey()
            guard keys.insert(Array(key.utf8)).inserted else { continue }
            for target in [volume, other] {
                _ = try catalog.commitObject(
                    ObjectVersion(volumeID: target.id!, key: key, size: 0, etag: "e", contentType: nil), extents: [], now: Fixture.now
                ) { _ in }
            }
        }
        let sorted = keys.sorted { $0.lexicographicallyPrecedes($1) }
        for _ in 0..<400 {
            let cut = String(decoding: sorted.randomElement(using: &generator)!, as: UTF8.self)
            let scalars = Array(cut.unicodeScalars)
            var prefix = ""
            prefix.unicodeScalars.append(contentsOf: scalars.prefix(Int.random(in: 0...scalars.count, using: &generator)))
            let startAfter: String? = Bool.random(using: &generator) ? randomKey() : nil
            let limit = Int.random(in: 1...40, using: &generator)
            let expected = sorted.filter { key in
                key.starts(with: Array(prefix.utf8)) && startAfter.map { Array($0.utf8).lexicographicallyPrecedes(key) } ?? true
            }.prefix(limit).map { String(decoding: $0, as: UTF8.self) }
            let listed = try catalog.listObjects(volumeID: volume.id!, prefix: prefix, startAfter: startAfter, limit: limit)
            #expect(
                listed.map { Array($0.key.utf8) } == expected.map { Array($0.utf8) },
                "prefix \(Array(prefix.utf8)) after \(startAfter ?? "-") limit \(limit)")
            #expect(listed.allSatisfy { $0.volumeId == volume.id! })
        }
    }
}

/// A seeded generator (SplitMix64), so a failing listing repeats.
private struct Seeded: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
