// Clones: a writable volume made from a snapshot shares every byte with it (nothing allocated),
// changes alone (its writes never reach its origin, the origin's never reach it), can be
// snapshotted and cloned in turn, survives a restart, and holds its origin's snapshot until it
// is deleted; after each step the figures equal a recount, the space audit is clean, and at the
// end `check --verify-data` is too.
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct CloneTests {
    static func read(_ engine: Engine, _ volume: String, _ key: String, snapshot: String? = nil) throws -> [UInt8]? {
        do {
            let reader =
                if let snapshot { try engine.openObject(volume: volume, key: key, snapshot: snapshot) } else {
                    try engine.openObject(volume: volume, key: key)
                }
            defer { reader.close() }
            return try Scratch.readAll(count: Int(reader.info.size)) { at, buffer in try reader.read(at: at, into: buffer) }
        } catch EngineError.objectNotFound {
            return nil
        }
    }

    /// `volume` (or its snapshot) holds exactly `expected`, listed and read.
    static func expect(
        _ engine: Engine, _ volume: String, snapshot: String? = nil, _ expected: [String: [UInt8]], _ context: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let listed =
            if let snapshot {
                try engine.listObjects(volume: volume, snapshot: snapshot, prefix: "", startAfter: nil, limit: 1000)
            } else {
                try engine.listObjects(volume: volume, prefix: "", startAfter: nil, limit: 1000)
            }
        #expect(listed.map(\.key) == expected.keys.sorted(by: Engine.keyPrecedes), "\(context): \(volume) listing", sourceLocation: sourceLocation)
        for key in ["a", "b", "c/d", "e"] {
            #expect(
                try read(engine, volume, key, snapshot: snapshot) == expected[key], "\(context): \(volume)/\(key)", sourceLocation: sourceLocation)
        }
    }

    static func checkSpace(_ engine: Engine, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try engine.spaceRecount() == engine.spaceCounters(), "\(context): counters against a recount", sourceLocation: sourceLocation)
        #expect(engine.spaceAudit().isEmpty, "\(context): space audit \(engine.spaceAudit())", sourceLocation: sourceLocation)
    }

    @Test func aCloneSharesEverythingAndChangesAlone() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        var origin: [String: [UInt8]] = [
            "a": Scratch.splitMixBytes(150_000, seed: 1), "b": Scratch.splitMixBytes(3_000, seed: 2), "c/d": Scratch.splitMixBytes(20_000, seed: 3),
        ]
        try Scratch.upload(engine, "vol", "a", origin["a"]!)
        try Scratch.upload(engine, "vol", "b", origin["b"]!)
        try Scratch.bufferedUpload(engine, "vol", "c/d", origin["c/d"]!, sync: false)
        try engine.createSnapshot(volume: "vol", snapshot: "s")
        let atSnapshot = origin
        let allocated = try engine.pool().allocatedBytes

        let clone = try engine.createClone(name: "copy", origin: "vol", snapshot: "s")
        #expect(clone.cloneOf == "vol@s")
        #expect(clone.sharedBytes == 173_000 && clone.usedBytes == 0 && clone.objectCount == 3)
        #expect(try engine.pool().allocatedBytes == allocated, "a clone allocates nothing")
        var copy = origin
        try Self.expect(engine, "copy", copy, "cloned")
        try Self.checkSpace(engine, "cloned")

        // The clone changes alone: an overwrite, a delete, a new key, a PATCH.
        copy["a"] = Scratch.splitMixBytes(40_000, seed: 4)
        try Scratch.upload(engine, "copy", "a", copy["a"]!)
        try engine.deleteObject(volume: "copy", key: "b")
        copy["b"] = nil
        copy["e"] = Scratch.splitMixBytes(5_000, seed: 5)
        // A clone keeps rows: a buffered write there goes to the direct writer.
        #expect(try engine.beginBufferedUpload(volume: "copy", key: "e", contentType: nil, length: 5_000, mode: .replace) == nil)
        let put = try engine.openWrite(volume: "copy", key: "e", WriteOptions(io: .buffered, sync: false, length: 5_000))
        try copy["e"]!.withUnsafeBytes { try put.append($0) }
        _ = try put.commit(etag: nil)
        let patch = Scratch.splitMixBytes(4096, seed: 6)
        let upload = try engine.openPatch(volume: "copy", key: "c/d", offset: 100, length: 4096, io: .buffered, sync: false)
        try patch.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        copy["c/d"]!.replaceSubrange(100..<4196, with: patch)
        // And the origin alone.
        origin["c/d"] = Scratch.splitMixBytes(7_000, seed: 7)
        try Scratch.upload(engine, "vol", "c/d", origin["c/d"]!)
        try Self.expect(engine, "copy", copy, "after writes")
        try Self.expect(engine, "vol", origin, "after writes")
        try Self.expect(engine, "vol", snapshot: "s", atSnapshot, "after writes")
        let figures = try engine.volume(named: "copy")
        #expect(figures.sharedBytes == 0, "every object the clone shared it has replaced or deleted")
        #expect(figures.usedBytes == Int64(40_000 + 5_000 + 20_000))
        try Self.checkSpace(engine, "after writes")

        // The snapshot a clone was made from, and its volume, stay while the clone does.
        #expect(throws: EngineError.snapshotHasClones(volume: "vol", name: "s", clones: ["copy"])) {
            try engine.deleteSnapshot(volume: "vol", snapshot: "s")
        }
        #expect(throws: EngineError.volumeHasClones(name: "vol", clones: ["copy"])) { try engine.deleteVolume(named: "vol", force: true) }

        // A clone of a clone's snapshot.
        try engine.createSnapshot(volume: "copy", snapshot: "t")
        let second = try engine.createClone(name: "copy2", origin: "copy", snapshot: "t")
        #expect(second.sharedBytes == Int64(40_000 + 5_000 + 20_000))
        try Self.expect(engine, "copy2", copy, "clone of a clone")

        engine.shutdown()
        engine = try Scratch.engine(dir)
        try Self.expect(engine, "copy2", copy, "after a restart")
        try Self.expect(engine, "copy", copy, "after a restart")
        try Self.expect(engine, "vol", origin, "after a restart")
        try Self.expect(engine, "vol", snapshot: "s", atSnapshot, "after a restart")
        try Self.checkSpace(engine, "after a restart")
        #expect(engine.check(verifyData: true).problems.isEmpty)

        // Deleted in order, everything only they held is freed.
        try engine.deleteVolume(named: "copy2", force: true)
        try engine.deleteSnapshot(volume: "copy", snapshot: "t")
        try engine.deleteVolume(named: "copy", force: true)
        try engine.deleteSnapshot(volume: "vol", snapshot: "s")
        try Self.expect(engine, "vol", origin, "after the clones are deleted")
        try Self.checkSpace(engine, "after the clones are deleted")
        #expect(try engine.volume(named: "vol").snapshotBytes == 0)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension CloneTests {
    /// A drain moves a shared extent once: the clone reading it (through the cache, whose entry
    /// named where the copy was) follows it, even after the space it left is written over.
    @Test func aDrainMovesASharedExtentOnceAndTheCloneFollows() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", capacity: 96 << 20)
        defer { engine.shutdown() }
        var expected: [String: [UInt8]] = [:]
        for i in 0..<6 {
            expected["k\(i)"] = Scratch.splitMixBytes(2 << 20, seed: UInt64(i))
            try Scratch.upload(engine, "vol", "k\(i)", expected["k\(i)"]!)
        }
        try engine.createSnapshot(volume: "vol", snapshot: "s")
        try engine.createClone(name: "copy", origin: "vol", snapshot: "s")
        func readCached(_ volume: String, _ key: String) throws -> [UInt8] {
            let source = try #require(try engine.openRead(volume: volume, key: key, io: .buffered, mayWait: true))
            defer { source.close() }
            return try Scratch.readAll(count: Int(source.info.size)) { at, buffer in try source.read(at: at, into: buffer) }
        }
        // Cached with the extents as they are, but only their first page read: the rest is
        // filled after the move, from where the cache's entry says the copy is.
        for (key, bytes) in expected {
            let source = try #require(try engine.openRead(volume: "copy", key: key, io: .buffered, mayWait: true))
            defer { source.close() }
            #expect(try Scratch.readAll(count: 4096) { at, buffer in try source.read(at: at, into: buffer) } == Array(bytes.prefix(4096)))
        }
        #expect(try engine.cacheStats(volume: "copy").cachedPages > 0)
        let allocated = try engine.pool().allocatedBytes
        let drained = devices.first { (try? engine.device(id: $0.id).remainingBytes) ?? 0 > 0 }!.id
        _ = try engine.setDeviceState(id: drained, to: .draining)
        #expect(try DrainTests.waitUntil { try engine.device(id: drained).remainingBytes == 0 }, "the drain did not finish")
        #expect(try engine.pool().allocatedBytes == allocated, "each shared extent moved once")
        // Back in service, the drained device takes new objects into the space the moved copies left.
        _ = try engine.setDeviceState(id: drained, to: .active)
        for i in 0..<6 { try Scratch.upload(engine, "vol", "new\(i)", Scratch.splitMixBytes(2 << 20, seed: UInt64(100 + i))) }
        for (key, bytes) in expected {
            #expect(try readCached("copy", key) == bytes, "copy/\(key) through the cache")
            #expect(try Scratch.readObject(engine, "copy", key) == bytes, "copy/\(key) past the cache")
            #expect(try Scratch.readObject(engine, "vol", key) == bytes, "vol/\(key)")
        }
        try Self.checkSpace(engine, "after the drain")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension CloneTests {
    /// Snapshots and clones taken and deleted while several threads overwrite and delete the
    /// same keys: every write acknowledged last is what the volume holds, each snapshot and clone
    /// still there holds what it held, and once they are all deleted exactly what nothing else
    /// holds has been freed (counters equal a recount, a clean audit, the pool back to the live data).
    @Test func snapshotsAndClonesComeAndGoUnderLoad() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        let keys = ["a", "b", "c/d", "e"]
        // Each key's writes are serialized by its own lock, so the last one answered is known.
        let latest = Dictionary(uniqueKeysWithValues: keys.map { ($0, Lock<[UInt8]?>(nil)) })
        let failures = Lock<[String]>([])
        let writersDone = Atomic<Int>(0)
        let rounds = Atomic<Int>(0)
        let writers = 3
        let body: @Sendable (Int) -> Void = { thread in
            var random = SplitMix(state: UInt64(thread) + 11)
            if thread == writers {
                // Snapshots and clones, until the writers are done.
                var n = 0
                var live: [(snapshot: String, clone: String?, view: [String: [UInt8]]?)] = []
                while writersDone.load(ordering: .acquiring) < writers {
                    n += 1
                    rounds.add(1, ordering: .relaxed)
                    do {
                        if live.count < 3 || random.next() % 2 == 0 {
                            let name = "s\(n)"
                            try engine.createSnapshot(volume: "vol", snapshot: name)
                            var clone: String?
                            var view: [String: [UInt8]]?
                            if random.next() % 2 == 0 {
                                clone = "clone-\(n)"
                                try engine.createClone(name: clone!, origin: "vol", snapshot: name)
                                // What the clone holds now is what the snapshot holds, for ever.
                                view = [:]
                                for key in keys { view![key] = try Self.read(engine, "vol", key, snapshot: name) }
                            }
                            live.append((name, clone, view))
                        } else {
                            let doomed = live.remove(at: Int(random.next() % UInt64(live.count)))
                            if let clone = doomed.clone {
                                for key in keys where try Self.read(engine, clone, key) != doomed.view![key] {
                                    failures.withLock { $0.append("\(clone)/\(key) differs from its snapshot \(doomed.snapshot)") }
                                }
                                try engine.deleteVolume(named: clone, force: true)
                            }
                            try engine.deleteSnapshot(volume: "vol", snapshot: doomed.snapshot)
                        }
                    } catch {
                        failures.withLock { $0.append("snapshots: \(error)") }
                    }
                }
                do {
                    for doomed in live {
                        if let clone = doomed.clone { try engine.deleteVolume(named: clone, force: true) }
                        try engine.deleteSnapshot(volume: "vol", snapshot: doomed.snapshot)
                    }
                } catch {
                    failures.withLock { $0.append("cleanup: \(error)") }
                }
                return
            }
            defer { writersDone.add(1, ordering: .releasing) }
            for step in 0..<40 {
                let key = keys[Int(random.next() % UInt64(keys.count))]
                do {
                    try latest[key]!.withLock { latest in
                        if random.next() % 5 == 0 {
                            if latest != nil {
                                try engine.deleteObject(volume: "vol", key: key)
                                latest = nil
                            }
                        } else {
                            let bytes = Scratch.splitMixBytes([100, 5_000, 60_000][Int(random.next() % 3)], seed: random.next())
                            let options = WriteOptions(io: random.next() % 2 == 0 ? .buffered : .direct, sync: false, length: Int64(bytes.count))
                            let upload = try engine.openWrite(volume: "vol", key: key, options)
                            try bytes.withUnsafeBytes { try upload.append($0) }
                            _ = try upload.commit(etag: nil)
                            latest = bytes
                        }
                    }
                } catch {
                    failures.withLock { $0.append("writer \(thread) step \(step): \(error)") }
                }
            }
        }
        Scratch.onThreads(writers + 1, body)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let changes = rounds.load(ordering: .relaxed)
        #expect(changes >= 4, "only \(changes) snapshot changes under the load")
        try Self.expect(engine, "vol", latest.compactMapValues { $0.withLock { $0 } }, "after the load")
        #expect(try engine.snapshots(volume: "vol").isEmpty)
        try engine.flushVolume(named: "vol")
        try Self.checkSpace(engine, "after the load")
        let volume = try engine.volume(named: "vol")
        #expect(volume.snapshotBytes == 0)
        #expect(try engine.pool().allocatedBytes >= volume.usedBytes)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}
