// Inline objects: a small buffered PUT is written back into its catalog row (no device write, no
// replica rows, no pool space allocated) and read back cold after a restart; a PATCH within the
// limit keeps it there, one past the limit moves its bytes to devices in the same commit; a large
// object replaced by a small one frees its extents; scrub and check verify the row against its
// checksums and a rotted row is reported, never served. The catalog holds no object when it has
// fewer copies than the volume's replicas, or with inline off.
import Catalog
import Foundation
import Logging
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

    /// A reader holds the version it opened: when that version's pages are evicted (its entry
    /// leaves the cache) and the version is then replaced or deleted, the reader still reads its
    /// bytes. An inline version's bytes are kept after its row is deleted, an extent's space is not
    /// reused, until the reader is done (before: 503 for an inline one, a checksum mismatch when
    /// an extent's space had been written again).
    @Test(arguments: ["sync", "async", "delete"], [6_000, 40_000])
    func aReaderOfAReplacedVersionStillReadsItsBytes(_ how: String, _ size: Int) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Engine.open(
            dataDirectory: dir.appending(path: "data").path, logger: Logger(label: "engine-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
            cacheBytes: 256 * Int64(PageState.pageSize))
        defer { engine.shutdown() }
        _ = try engine.addDevice(path: try Scratch.file(dir, "a.img", size: 128 << 20), label: nil, force: false)
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 1, provisioning: .thin)
        let old = Scratch.splitMixBytes(size, seed: 31)
        try Scratch.bufferedUpload(engine, "vol", "k", old, sync: true)
        #expect(Self.isInline(try Self.stored(engine, "vol", "k")) == (size <= Engine.defaultInlineMaxBytes))
        try engine.dropCached(volume: "vol", key: "k")
        var reader: BufferedReader? = try engine.openBuffered(volume: "vol", key: "k")
        var first = [UInt8](repeating: 0, count: PageState.pageSize)
        #expect(try first.withUnsafeMutableBytes { try reader!.read(at: 0, into: $0) } == PageState.pageSize)
        // Other objects push the version's pages out of the cache (256 pages at least).
        for i in 0..<300 {
            try Scratch.bufferedUpload(engine, "vol", "other\(i)", Scratch.splitMixBytes(3_000, seed: UInt64(100 + i)), sync: true)
            _ = try Self.readBuffered(engine, "vol", "other\(i)")
        }
        switch how {
        case "delete": try engine.deleteObject(volume: "vol", key: "k")
        default: try Scratch.bufferedUpload(engine, "vol", "k", Scratch.splitMixBytes(size - 1_000, seed: 32), sync: how == "sync")
        }
        // New objects of the same size, where the freed space would be reused.
        for i in 0..<8 { try Scratch.bufferedUpload(engine, "vol", "new\(i)", Scratch.splitMixBytes(size, seed: UInt64(200 + i)), sync: true) }
        try engine.flushVolume(named: "vol")
        let rest = try Scratch.readAll(count: old.count - PageState.pageSize) { at, buffer in
            try reader!.read(at: Int64(PageState.pageSize) + at, into: buffer)
        }
        #expect(Array(first) + rest == old, "the reader opened before the \(how) reads the version it opened")
        reader!.close()
        reader = nil
        #expect(engine.catalog.retiredBodies.count == 0, "kept bytes are let go with the last reader")
        #expect(engine.deferredFree.pendingBytes == 0)
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
