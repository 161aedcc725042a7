// Scrub and read repair: bytes flipped on a device file at a copy found through the extent map;
// one copy (repaired, copy-on-write), both copies of a block (unrepairable: reported, and a read
// of that range fails, never returns wrong bytes), a copy of a large object being overwritten
// while the scrub runs (the overwrite wins and nothing is reverted), a read that finds a bad copy
// (repaired in the background). A second scrub finds nothing.
import Catalog
import Foundation
import Testing

@testable import Engine

@Suite struct ScrubTests {
    /// Flips `count` bytes of `key`'s copy `copy` of extent `extent`, `at` bytes into it.
    static func rot(_ engine: Engine, _ volume: String, _ key: String, extent: Int = 0, copy: Int, at offset: Int64, count: Int = 4) throws {
        let id = try engine.volumeRecord(named: volume).id!
        let object = try #require(try engine.catalog.object(volumeID: id, key: key))
        let replica = object.extents[extent].replicas.sorted { $0.deviceId < $1.deviceId }[copy]
        let path = try #require(engine.devices.device(id: replica.deviceId)?.path)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(replica.physicalOffset + offset))
        let old = try handle.read(upToCount: count) ?? Data()
        try handle.seek(toOffset: UInt64(replica.physicalOffset + offset))
        try handle.write(contentsOf: Data(old.map { ~$0 }))
        try handle.synchronize()
    }

    static func scrub(_ engine: Engine) throws -> ScrubStatus {
        _ = try engine.startScrub()
        #expect(engine.waitForScrubAndRepairs())
        let status = engine.scrubStatus()
        #expect(status.state == .finished)
        return status
    }

    @Test func aRottedCopyIsRewrittenFromTheGoodOneAndASecondScrubFindsNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(300_000, seed: 7)
        try Scratch.upload(engine, "vol", "photo", data)
        let before = try #require(try engine.catalog.object(volumeID: engine.volumeRecord(named: "vol").id!, key: "photo"))
        try Self.rot(engine, "vol", "photo", copy: 0, at: 5000)

        let first = try Self.scrub(engine)
        #expect(first.errors == 1)
        #expect(first.repaired == 1)
        #expect(first.unrepairable.isEmpty)
        #expect(first.checkedBytes == first.totalBytes)
        #expect(first.totalBytes == 2 * 303_104)
        let after = try #require(try engine.catalog.object(volumeID: engine.volumeRecord(named: "vol").id!, key: "photo"))
        let moved = Set(after.extents[0].replicas.map(\.physicalOffset)).subtracting(before.extents[0].replicas.map(\.physicalOffset))
        #expect(moved.count == 1, "the bad copy was rewritten into new space, not in place")
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(try Scratch.readObject(engine, "vol", "photo") == data)

        let second = try Self.scrub(engine)
        #expect(second.errors == 0)
        #expect(second.repaired == 0)
        let counters = engine.scrubCounters()
        #expect(counters.repaired == 1)
        #expect(counters.errors == 1)
        #expect(counters.checkedBytes == 4 * 303_104)
        #expect(counters.lastFinished > 0)
        #expect(engine.spaceAudit().isEmpty)
        #expect(throws: EngineError.scrubRunning) {
            _ = try engine.startScrub()
            _ = try engine.startScrub()
        }
        engine.waitForScrubAndRepairs()
    }

    @Test func aBlockBadInEveryCopyIsReportedAndNeverServed() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(40_000, seed: 9)
        try Scratch.upload(engine, "vol", "doc", data)
        try Self.rot(engine, "vol", "doc", copy: 0, at: 8192 + 100)
        try Self.rot(engine, "vol", "doc", copy: 1, at: 8192 + 3000)

        let status = try Self.scrub(engine)
        #expect(status.errors == 2)
        #expect(status.repaired == 0)
        #expect(status.unrepairable == [UnrepairableRange(volume: "vol", key: "doc", offset: 8192, length: 4096)])
        #expect(engine.scrubCounters().unrepairable == 1)
        // The bad range fails; the rest of the object is still served.
        #expect(throws: EngineError.self) { _ = try Scratch.readObject(engine, "vol", "doc", offset: 8192, count: 4096) }
        #expect(try Scratch.readObject(engine, "vol", "doc", offset: 0, count: 8192) == Array(data[0..<8192]))
        #expect(try Scratch.readObject(engine, "vol", "doc", offset: 12288, count: 4096) == Array(data[12288..<16384]))
        #expect(engine.spaceAudit().isEmpty)
    }

    @Test func aReadThatFindsABadCopyRepairsItInTheBackground() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(64 << 10, seed: 11)
        try Scratch.upload(engine, "vol", "k", data)
        // Rot both copies' first read target so whichever the read tries first, one is bad.
        try Self.rot(engine, "vol", "k", copy: 0, at: 0)
        #expect(engine.check(verifyData: true).problems.count == 1)
        // Reads until one has gone to the bad copy first (they start at the first listed copy).
        #expect(try Scratch.readObject(engine, "vol", "k") == data)
        #expect(engine.waitForScrubAndRepairs())
        #expect(engine.scrubCounters().repaired == 1)
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(engine.spaceAudit().isEmpty)
    }

    @Test func aScrubNeverRevertsAnOverwriteOfTheObjectItIsRepairing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", capacity: 100 << 20, replicas: 2)
        defer { engine.shutdown() }
        let old = Scratch.splitMixBytes(12 << 20, seed: 1)
        try Scratch.upload(engine, "vol", "big", old)
        for extent in 0..<3 { try Self.rot(engine, "vol", "big", extent: extent, copy: extent % 2, at: 4096 * Int64(extent + 1)) }
        engine.configureScrub(rate: 8 << 20, interval: 0)  // 48 MiB of copies: about 6 s
        _ = try engine.startScrub()
        let new = Scratch.splitMixBytes(12 << 20, seed: 2)
        usleep(700_000)  // the scrub is into the first extents
        try Scratch.upload(engine, "vol", "big", new)
        #expect(engine.waitForScrubAndRepairs())
        #expect(try Scratch.readObject(engine, "vol", "big") == new)
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(engine.spaceAudit().isEmpty)
        engine.configureScrub(rate: 0, interval: 0)
        let again = try Self.scrub(engine)
        #expect(again.errors == 0)
    }
}
