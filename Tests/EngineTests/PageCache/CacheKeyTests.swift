import Foundation
import Testing

// Cache entries are keyed by the key's bytes, as the catalog's UNIQUE(volumeId, key) is:
// "\u{E9}" (NFC) and "e\u{301}" (NFD) are two objects, though Swift's String == calls them equal.
@testable import Engine

@Suite struct CacheKeyTests {
    @Test func canonicallyEquivalentKeysAreTwoObjectsInTheCache() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let (engine, _) = try Scratch.engine(directory, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let (nfc, nfd) = ("caf\u{E9}", "cafe\u{0301}")
        #expect(nfc == nfd)  // Swift's view; the catalog's differs.
        #expect(CacheKey(volumeID: 1, key: nfc) != CacheKey(volumeID: 1, key: nfd))
        try Scratch.bufferedUpload(engine, "vol", nfc, [1, 1, 1], sync: false)
        try Scratch.bufferedUpload(engine, "vol", nfd, [2, 2, 2, 2], sync: false)
        let listed = try engine.listObjects(volume: "vol", prefix: "caf", startAfter: nil, limit: 10)
        #expect(listed.map { Array($0.key.utf8) } == [Array(nfd.utf8), Array(nfc.utf8)])
        #expect(listed.map(\.size) == [4, 3])
        let reader = try engine.openBuffered(volume: "vol", key: nfc)
        var bytes = [UInt8](repeating: 0, count: 8)
        let count = try bytes.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        reader.close()
        #expect(Array(bytes.prefix(count)) == [1, 1, 1])
        #expect(try Scratch.readObject(engine, "vol", nfd) == [2, 2, 2, 2])
        #expect(try Scratch.readObject(engine, "vol", nfc) == [1, 1, 1])
    }
}
