// Writeback in batches (Buffered/WritebackBatch.swift): a flush's helpers take many keys at a time,
// write the small objects' data in one ring batch and commit them together. Every object must come
// back byte for byte after a restart, whatever path it took (inline, a batched extent, a large or
// multi-run object, a PATCH of an inline object that grows out of the catalog); the counters must
// match a recount; and one object's failure (its write, its catalog change) fails only that object,
// which stays dirty and reserved for the next flush.
import Catalog
import Foundation
import Glibc
import Synchronization
import Testing

@testable import Engine

@Suite(.serialized) struct WritebackBatchTests {
    /// The objects the tests write: sizes across the inline limit (8 KiB), the batched-write limit
    /// (256 KiB) and empty, and what each should read back as.
    static func workload(_ engine: Engine, _ volume: String, round: UInt64) throws -> [String: [UInt8]] {
        var expected: [String: [UInt8]] = [:]
        let sizes = [1, 4096, 5000, 8192, 8193, 16_384, 70_000, 262_144, 300_000, 1_200_000]
        for i in 0..<120 {
            let size = sizes[i % sizes.count]
            let data = Scratch.splitMixBytes(size, seed: round * 1000 + UInt64(i))
            try Scratch.bufferedUpload(engine, volume, "o\(i)", data, sync: false)
            expected["o\(i)"] = data
        }
        return expected
    }

    /// `count` async PUTs to "vol" (keys `prefix`0…), `size(i)` bytes each; what each holds.
    static func writeAsync(_ engine: Engine, _ prefix: String, count: Int, size: (Int) -> Int) throws -> [String: [UInt8]] {
        var expected: [String: [UInt8]] = [:]
        for i in 0..<count {
            let data = Scratch.splitMixBytes(size(i), seed: UInt64(i))
            try Scratch.bufferedUpload(engine, "vol", "\(prefix)\(i)", data, sync: false)
            expected["\(prefix)\(i)"] = data
        }
        return expected
    }

    /// Shuts `engine` down, opens its data directory again, and checks every object and the counters.
    static func expectSurvivesRestart(_ engine: Engine, _ dir: URL, _ expected: [String: [UInt8]]) throws {
        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        try expectReadBack(reopened, "vol", expected, "after a restart")
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after a restart")
    }

    static func expectReadBack(_ engine: Engine, _ volume: String, _ expected: [String: [UInt8]], _ when: String) throws {
        for (key, data) in expected.sorted(by: { $0.key < $1.key }) {
            let back = try ConcurrentLifecycleTests.read(engine, volume, key, direct: true)
            #expect(back == data, "\(when): \(key) (\(data.count) bytes) read back \(back.count) bytes, different")
        }
    }

    @Test func aFlushOfManySmallObjectsCommitsThemTogetherAndLosesNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 128 << 20, replicas: 2)
        var expected = try Self.workload(engine, "vol", round: 1)
        let groups0 = engine.groupCommit.groups.load(ordering: .relaxed)
        let changes0 = engine.groupCommit.changes.load(ordering: .relaxed)
        try engine.flushVolume(named: "vol")
        let groups = engine.groupCommit.groups.load(ordering: .relaxed) - groups0
        let changes = engine.groupCommit.changes.load(ordering: .relaxed) - changes0
        #expect(changes == expected.count, "every object committed once: \(changes)")
        #expect(groups * 4 <= changes, "\(groups) catalog transactions for \(changes) objects")
        #expect(try engine.cacheStats(volume: "vol").dirtyPages == 0)

        // Overwrite half (the old extents and rows are freed), PATCH others (an inline object
        // that grows past the limit leaves the catalog; a small one grows in it), delete some.
        for i in stride(from: 0, to: 120, by: 2) {
            let data = Scratch.splitMixBytes([4096, 20_000, 9000][i % 3], seed: 7000 + UInt64(i))
            try Scratch.bufferedUpload(engine, "vol", "o\(i)", data, sync: false)
            expected["o\(i)"] = data
        }
        for i in stride(from: 1, to: 120, by: 6) {
            let patch = Scratch.splitMixBytes(3000, seed: 9000 + UInt64(i))
            let offset = 2000
            try Scratch.bufferedUpload(engine, "vol", "o\(i)", patch, mode: .patch(offset: Int64(offset)), sync: false)
            var data = expected["o\(i)"]!
            if data.count < offset + patch.count { data += [UInt8](repeating: 0, count: offset + patch.count - data.count) }
            data.replaceSubrange(offset..<offset + patch.count, with: patch)
            expected["o\(i)"] = data
        }
        for i in stride(from: 3, to: 120, by: 10) {
            try engine.deleteObject(volume: "vol", key: "o\(i)")
            expected["o\(i)"] = nil
        }
        try engine.flushVolume(named: "vol")
        try Self.expectReadBack(engine, "vol", expected, "before the restart")
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the flushes")
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")

        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        try Self.expectReadBack(reopened, "vol", expected, "after a restart")
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after a restart")
        #expect(reopened.spaceAudit().isEmpty, "\(reopened.spaceAudit())")
    }

    /// One batch, on one thread, is one group: one transaction and one flush per device for all
    /// of its objects, inline and on devices (one at a time, each would be a group of its own).
    @Test func oneBatchIsOneCommit() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        let expected = try Self.writeAsync(engine, "b", count: 32) { $0 % 2 == 0 ? 4096 : 16_384 }
        let keys = engine.pageCache.keysToFlush(volumeID: try engine.volumeRecord(named: "vol").id!)
        #expect(keys.count == 32)
        let (groups0, changes0, flushes0) = (
            engine.groupCommit.groups.load(ordering: .relaxed), engine.groupCommit.changes.load(ordering: .relaxed),
            engine.groupCommit.flushes.load(ordering: .relaxed)
        )
        let failures = engine.flushBatch(ArraySlice(keys))
        #expect(failures.isEmpty, "\(failures)")
        #expect(engine.groupCommit.groups.load(ordering: .relaxed) - groups0 == 1)
        #expect(engine.groupCommit.changes.load(ordering: .relaxed) - changes0 == 32)
        #expect(engine.groupCommit.flushes.load(ordering: .relaxed) - flushes0 == 1, "one device flush")
        #expect(try engine.cacheStats(volume: "vol").dirtyPages == 0)
        try Self.expectSurvivesRestart(engine, dir, expected)
    }

    /// A device write that fails in a batch fails its own object: the others commit, it stays
    /// dirty and reserved with nothing of it left allocated, and the next flush writes it.
    @Test func aFailedWriteInABatchFailsOnlyItsObject() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 1, volume: "vol")
        let expected = try Self.writeAsync(engine, "e", count: 64) { _ in 16_384 }  // past the inline limit: extents
        let fd = try #require(engine.devices.device(id: devices[0].id)?.fd)
        Syscalls.injectFault(call: "io_uring write", errno: EIO, fd: fd)
        #expect(throws: EngineError.self) { try engine.flushVolume(named: "vol") }
        let failed = try engine.cacheStats(volume: "vol")
        #expect(failed.writebackErrors == 1)
        #expect(failed.dirtyPages == 4, "one 16 KiB object stays dirty: \(failed.dirtyPages) pages")
        #expect(failed.reservedBytes == 16_384, "and keeps its reservation: \(failed.reservedBytes)")
        #expect(engine.reservationFigures().pagesReserved == engine.reservationFigures().accounted)
        #expect(try engine.pool().allocatedBytes == 63 * 16_384, "only the 63 committed objects are allocated")

        try engine.flushVolume(named: "vol")
        #expect(try engine.cacheStats(volume: "vol").dirtyPages == 0)
        try Self.expectSurvivesRestart(engine, dir, expected)
    }

    /// A catalog change that fails in a batch fails its own object; the rest of the batch (inline
    /// and extent objects) commits, and the next flush commits it.
    @Test func aFailedCatalogChangeInABatchFailsOnlyItsObject() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol")
        let expected = try Self.writeAsync(engine, "m", count: 64) { $0 % 2 == 0 ? 4096 : 12_288 }
        // The flush's helpers run on the engine's workers; the first catalog call there fails.
        Syscalls.injectFault(call: engine.catalogFault, errno: EIO, threadNamed: "engine-worker")
        defer { Syscalls.clearFault(call: engine.catalogFault) }
        #expect(throws: EngineError.self) { try engine.flushVolume(named: "vol") }
        let failed = try engine.cacheStats(volume: "vol")
        #expect(failed.writebackErrors == 1)
        #expect(failed.dirtyPages == 1 || failed.dirtyPages == 3, "one object stays dirty: \(failed.dirtyPages) pages")
        #expect(engine.reservationFigures().pagesReserved == engine.reservationFigures().accounted)
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")

        try engine.flushVolume(named: "vol")
        #expect(try engine.cacheStats(volume: "vol").dirtyPages == 0)
        try Self.expectSurvivesRestart(engine, dir, expected)
    }
}
