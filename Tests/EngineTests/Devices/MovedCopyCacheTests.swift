// A copy moved by a drain (or a scrub's repair) while its object is cached: the cache's record of
// the committed extents must follow the move. A PATCH written back after the move splices its
// new bytes over the committed extents; with stale ones, the new rows pointed at the moved-from
// space (freed by the move, then given to other data) and the splice freed that space again.
import Catalog
import Foundation
import Testing

@testable import Engine

@Suite struct MovedCopyCacheTests {
    /// A buffered sync PUT: committed, and left cached (clean) with its extents. Returns `data`.
    static func putCached(_ engine: Engine, _ key: String, _ data: [UInt8]) throws -> [UInt8] {
        let upload = try engine.openWrite(volume: "vol", key: key, WriteOptions(io: .buffered, sync: true, length: Int64(data.count)))
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        return data
    }

    static func patch(_ engine: Engine, _ key: String, offset: Int64, _ bytes: [UInt8]) throws {
        let upload = try engine.openPatch(volume: "vol", key: key, offset: offset, length: Int64(bytes.count), io: .buffered, sync: true)
        try bytes.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
    }

    @Test(arguments: [false, true])
    func aPatchAfterADrainSplicesOverWhereTheCopiesAreNow(wholeObject: Bool) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", capacity: 96 << 20)
        var expected: [String: [UInt8]] = [:]
        // Buffered sync PUTs: committed, and left cached (clean) with their extents.
        for i in 0..<6 { expected["k\(i)"] = try Self.putCached(engine, "k\(i)", Scratch.splitMixBytes(96 << 10, seed: UInt64(i))) }
        #expect(try engine.cacheStats(volume: "vol").cachedPages > 0)
        // Every copy on device 0 moves to device 1.
        let drained = devices.first { (try? engine.device(id: $0.id).remainingBytes) ?? 0 > 0 }!.id
        _ = try engine.setDeviceState(id: drained, to: .draining)
        #expect(try DrainTests.waitUntil { try engine.device(id: drained).remainingBytes == 0 }, "the drain did not finish")
        // New objects take the space the moved copies left.
        for i in 0..<6 {
            let data = Scratch.splitMixBytes(96 << 10, seed: UInt64(100 + i))
            try Scratch.upload(engine, "vol", "new\(i)", data)
            expected["new\(i)"] = data
        }
        // PATCHes of the cached objects, written back over their (moved) committed extents.
        for i in 0..<6 {
            let key = "k\(i)"
            let (offset, count) = wholeObject ? (0, 96 << 10) : (8192 + 100, 5000)
            let bytes = Scratch.splitMixBytes(count, seed: UInt64(200 + i))
            try Self.patch(engine, key, offset: Int64(offset), bytes)
            expected[key]!.replaceSubrange(offset..<offset + count, with: bytes)
        }
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")
        let report = engine.check(verifyData: true)
        #expect(report.problems.isEmpty, "\(report.problems)")
        engine.shutdown()

        // Read from the disks, not the cache.
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        DrainTests.verifyAllNoThrow(reopened, expected)
        #expect(reopened.spaceAudit().isEmpty, "after a restart: \(reopened.spaceAudit())")
    }
}

extension MovedCopyCacheTests {
    /// PATCHes of cached objects (buffered, sync and async) while a drain moves their copies:
    /// every move waits for the object's writeback and every writeback sees where the copies are.
    @Test func patchesDuringADrainLoseNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", capacity: 96 << 20, replicas: 2)
        var expected: [String: [UInt8]] = [:]
        for i in 0..<12 { expected["k\(i)"] = try Self.putCached(engine, "k\(i)", Scratch.splitMixBytes(160 << 10, seed: UInt64(i))) }
        let drained = devices[0].id
        _ = try engine.setDeviceState(id: drained, to: .draining)
        var generator = SplitMix(state: 7)
        var round = 0
        // Patch until the drain is done (and a few rounds more), one key at a time.
        while round < 400, (try engine.device(id: drained).remainingBytes > 0 || round < 60) {
            let key = "k\(Int(generator.next() % 12))"
            let offset = Int(generator.next() % UInt64(150 << 10))
            let count = 1 + Int(generator.next() % 9000)
            let bytes = Scratch.splitMixBytes(count, seed: generator.next())
            let sync = generator.next() % 2 == 0
            let upload = try engine.openPatch(volume: "vol", key: key, offset: Int64(offset), length: Int64(count), io: .buffered, sync: sync)
            try bytes.withUnsafeBytes { try upload.append($0) }
            _ = try upload.commit(etag: nil)
            var data = expected[key]!
            if offset + count > data.count { data += [UInt8](repeating: 0, count: offset + count - data.count) }
            data.replaceSubrange(offset..<offset + count, with: bytes)
            expected[key] = data
            round += 1
        }
        #expect(try DrainTests.waitUntil { try engine.device(id: drained).remainingBytes == 0 }, "the drain did not finish")
        try engine.flushVolume(named: "vol")
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")
        #expect(engine.check(verifyData: true).problems.isEmpty)
        DrainTests.verifyAllNoThrow(engine, expected)
        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        DrainTests.verifyAllNoThrow(reopened, expected)
    }
}

extension DrainTests {
    /// Every object reads back as expected (a failed read is recorded, not thrown).
    static func verifyAllNoThrow(_ engine: Engine, _ expected: [String: [UInt8]], volume: String = "vol") {
        for (key, data) in expected.sorted(by: { $0.key < $1.key }) {
            do {
                #expect(try Scratch.readObject(engine, volume, key) == data, "\(key)")
            } catch {
                Issue.record("\(key): \(error)")
            }
        }
    }
}
