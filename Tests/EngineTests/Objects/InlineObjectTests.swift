// Inline objects: a small buffered PUT is written back into its catalog row (no device write, no
// replica rows, no pool space allocated) and read back cold after a restart; a PATCH within the
// limit keeps it there, one past the limit moves its bytes to devices in the same commit; a large
// object replaced by a small one frees its extents; scrub and check verify the row against its
// checksums and a rotted row is reported, never served. The catalog holds no object when it has
// fewer copies than the volume's replicas, or with inline off.
import Catalog
import Foundation
import Testing

@testable import Engine

@Suite(.serialized) struct InlineObjectTests {
    static func stored(_ engine: Engine, _ volume: String, _ key: String) throws -> StoredObject {
        try #require(try engine.catalog.object(volumeID: engine.volumeRecord(named: volume).id!, key: key))
    }

    /// Reads `key` whole through the cache (buffered).
    static func readBuffered(_ engine: Engine, _ volume: String, _ key: String) throws -> [UInt8] {
        let reader = try engine.openBuffered(volume: volume, key: key)
        defer { reader.close() }
        return try Scratch.readAll(count: Int(reader.info.size)) { at, buffer in try reader.read(at: at, into: buffer) }
    }

    static func isInline(_ object: StoredObject) -> Bool {
        !object.extents.isEmpty && object.extents.allSatisfy { $0.record.body != nil && $0.replicas.isEmpty }
    }

    @Test func aSmallSyncPutLivesInItsCatalogRowAndReadsBackColdAfterARestart() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol")
        let before = engine.spaceCounters()
        let data = Scratch.splitMixBytes(7_000, seed: 1)
        try Scratch.bufferedUpload(engine, "vol", "small", data, sync: true)
        let object = try Self.stored(engine, "vol", "small")
        #expect(Self.isInline(object))
        #expect(object.extents[0].record.body == Data(data))
        #expect(engine.spaceCounters().allocatedBytes == before.allocatedBytes, "an inline object allocates nothing on the devices")
        #expect(try engine.volume(named: "vol").usedBytes == 7_000)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after an inline PUT")
        #expect(try Self.readBuffered(engine, "vol", "small") == data)
        #expect(try Scratch.readObject(engine, "vol", "small") == data, "the direct reader reads the row too")
        engine.shutdown()

        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(try Self.readBuffered(engine, "vol", "small") == data, "a cold read after a restart")
        #expect(try engine.volume(named: "vol").usedBytes == 7_000)
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(engine.check(verifyData: true).inlineExtents == 1)
    }

    @Test func aPatchWithinTheLimitStaysInlineAndOnePastItMovesTheBytesToDevices() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        var model = Scratch.splitMixBytes(6000, seed: 2)
        try Scratch.bufferedUpload(engine, "vol", "k", model, sync: true)
        #expect(Self.isInline(try Self.stored(engine, "vol", "k")))

        let patch = Scratch.splitMixBytes(100, seed: 3)
        try Scratch.bufferedUpload(engine, "vol", "k", patch, mode: .patch(offset: 5000), sync: true)
        model.replaceSubrange(5000..<5100, with: patch)
        #expect(Self.isInline(try Self.stored(engine, "vol", "k")))
        #expect(try Self.readBuffered(engine, "vol", "k") == model)

        // Dropped from the cache: the next PATCH reads the committed bytes from the row.
        try engine.dropCached(volume: "vol", key: "k")
        let grow = Scratch.splitMixBytes(30_000, seed: 4)
        try Scratch.bufferedUpload(engine, "vol", "k", grow, mode: .patch(offset: 4096), sync: true)
        model = Array(model[0..<4096]) + grow
        let moved = try Self.stored(engine, "vol", "k")
        #expect(!Self.isInline(moved))
        #expect(moved.extents.allSatisfy { $0.record.body == nil && $0.replicas.count == 2 })
        #expect(try Self.readBuffered(engine, "vol", "k") == model)
        try engine.dropCached(volume: "vol", key: "k")
        #expect(try Scratch.readObject(engine, "vol", "k") == model)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the object left the catalog")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func aLargeObjectReplacedByASmallOneFreesItsExtentsAndBack() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol")
        defer { engine.shutdown() }
        let empty = engine.spaceCounters().allocatedBytes
        let large = Scratch.splitMixBytes(200_000, seed: 5)
        try Scratch.bufferedUpload(engine, "vol", "k", large, sync: true)
        #expect(!Self.isInline(try Self.stored(engine, "vol", "k")))
        let small = Scratch.splitMixBytes(3000, seed: 6)
        try Scratch.bufferedUpload(engine, "vol", "k", small, sync: true)
        #expect(Self.isInline(try Self.stored(engine, "vol", "k")))
        #expect(engine.spaceCounters().allocatedBytes == empty, "the large version's extents are freed")
        #expect(try Self.readBuffered(engine, "vol", "k") == small)
        try Scratch.bufferedUpload(engine, "vol", "k", large, sync: true)
        #expect(!Self.isInline(try Self.stored(engine, "vol", "k")))
        #expect(try Self.readBuffered(engine, "vol", "k") == large)
        try engine.deleteObject(volume: "vol", key: "k")
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the delete")
    }

    @Test func asyncSmallPutsAreWrittenBackInlineAndADeleteRemovesTheRow() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let objects = (0..<20).map { Scratch.splitMixBytes(100 + $0 * 350, seed: UInt64(10 + $0)) }
        for (i, data) in objects.enumerated() { try Scratch.bufferedUpload(engine, "vol", "k\(i)", data, sync: false) }
        try engine.flushVolume(named: "vol")
        for (i, data) in objects.enumerated() {
            #expect(Self.isInline(try Self.stored(engine, "vol", "k\(i)")))
            #expect(try Scratch.readObject(engine, "vol", "k\(i)") == data)
        }
        try engine.deleteObject(volume: "vol", key: "k3")
        #expect(try engine.catalog.object(volumeID: engine.volumeRecord(named: "vol").id!, key: "k3") == nil)
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the delete")
    }

    @Test func scrubVerifiesTheRowAndARottedRowIsReportedNeverServed() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(8000, seed: 7)
        try Scratch.bufferedUpload(engine, "vol", "k", data, sync: true)
        let clean = try ScrubTests.scrub(engine)
        #expect(clean.errors == 0)
        #expect(clean.unrepairable.isEmpty)

        // The row's bytes changed behind the checksums (as a bug writing the catalog would).
        let id = try Self.stored(engine, "vol", "k").extents[0].record.id!
        var rotted = data
        rotted[5000] ^= 0xFF
        try engine.catalog.overwriteInlineBody(extentID: id, with: Data(rotted))
        try engine.dropCached(volume: "vol", key: "k")
        let found = try ScrubTests.scrub(engine)
        #expect(found.unrepairable.count == 1)
        #expect(throws: EngineError.self) { try Self.readBuffered(engine, "vol", "k") }
        #expect(throws: EngineError.self) { try Scratch.readObject(engine, "vol", "k") }
        #expect(!engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func theCatalogHoldsNoObjectWithFewerCopiesThanReplicasOrWithInlineOff() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "one")
        defer { engine.shutdown() }
        _ = try engine.createVolume(name: "three", capacityBytes: 16 << 20, replicas: 2, provisioning: .thin)
        try Scratch.bufferedUpload(engine, "one", "a", Scratch.splitMixBytes(4096, seed: 8), sync: true)
        #expect(Self.isInline(try Self.stored(engine, "one", "a")))
        // Two copies of the catalog hold a 2-replica object; a 3-copy volume would not be (2 devices).
        try Scratch.bufferedUpload(engine, "three", "b", Scratch.splitMixBytes(4096, seed: 9), sync: true)
        #expect(Self.isInline(try Self.stored(engine, "three", "b")))
        #expect(engine.catalogHoldsInline(replicas: 2, bytes: 4096))
        #expect(!engine.catalogHoldsInline(replicas: 3, bytes: 4096))

        try engine.configureInline(maxBytes: 0)
        try Scratch.bufferedUpload(engine, "one", "c", Scratch.splitMixBytes(4096, seed: 10), sync: true)
        #expect(!Self.isInline(try Self.stored(engine, "one", "c")))
        #expect(throws: EngineError.self) { try engine.configureInline(maxBytes: -1) }
        #expect(throws: EngineError.self) { try engine.configureInline(maxBytes: 2 << 20) }
    }
}
