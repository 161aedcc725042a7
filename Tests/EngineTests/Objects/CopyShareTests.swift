// Server-side copies within a volume share extents (`Catalog+Copies.swift`): a copy takes no
// space, outlives its source (the extents pass to a copy), is not changed by a PATCH of its
// source nor changes it when patched (a PATCH of a shared row is written whole), and an extent
// is freed only when nothing reads it. Checked by hand, against a model of random operations
// with snapshots and restarts, and with writers and copiers on the same keys at once.
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct CopyShareTests {
    typealias Digest = ObjectStoreTests.CountingDigest

    /// Names a copy by its source's ETag, without reading its bytes (as S3's does a single-part object's).
    final class ReusingDigest: ObjectDigest {
        func update(_ bytes: UnsafeRawBufferPointer) { Issue.record("a copy named by its source's ETag read its bytes") }
        func finish() -> String { "" }
        func reset() {}
        func etag(ofCopyOf source: ObjectInfo) -> String? { source.etag }
    }

    static func copy(_ engine: Engine, _ from: String, _ to: String, metadata: CopyMetadata = .copy, reading: Bool = true) throws -> ObjectInfo {
        let digest: any ObjectDigest = reading ? Digest() : ReusingDigest()
        return try engine.copyObject(from: ("vol", from), if: ReadConditions(), to: ("vol", to), metadata: metadata, digest: digest).copy
    }

    static func patch(_ engine: Engine, _ key: String, at offset: Int64, _ bytes: [UInt8], sync: Bool) throws {
        let upload = try engine.openPatch(volume: "vol", key: key, offset: offset, length: Int64(bytes.count), io: .buffered, sync: sync)
        try bytes.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
    }

    static func expectConsistent(_ engine: Engine, _ context: String = "") throws {
        try engine.flushVolume(named: "vol")
        #expect(try engine.spaceRecount() == engine.spaceCounters(), "\(context): counters against a recount")
        #expect(engine.spaceAudit().isEmpty, "\(context): space audit")
    }

    @Test func aCopyTakesNoSpaceAndOutlivesItsSource() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(1 << 20, seed: 1)
        try Scratch.upload(engine, "vol", "src", data)
        let allocated = try engine.pool().allocatedBytes

        let copied = try Self.copy(engine, "src", "dst")
        #expect(copied.etag == "copied-\(data.count)", "the digest saw every byte once")
        #expect(try Scratch.readObject(engine, "vol", "dst") == data)
        #expect(try engine.pool().allocatedBytes == allocated, "nothing allocated")
        var volume = try engine.volume(named: "vol")
        #expect((volume.usedBytes, volume.sharedBytes, volume.objectCount) == (Int64(data.count), Int64(data.count), 2))
        try Self.expectConsistent(engine, "copied")

        try engine.deleteObject(volume: "vol", key: "src")
        #expect(try Scratch.readObject(engine, "vol", "dst") == data, "the copy outlives its source")
        #expect(try engine.pool().allocatedBytes == allocated, "its bytes are the copy's now")
        volume = try engine.volume(named: "vol")
        #expect((volume.usedBytes, volume.sharedBytes, volume.objectCount) == (Int64(data.count), 0, 1))
        try Self.expectConsistent(engine, "source deleted")

        try engine.deleteObject(volume: "vol", key: "dst")
        try Self.expectConsistent(engine, "copy deleted")
        #expect(try engine.pool().allocatedBytes == 0, "freed when nothing reads them")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    /// The source written on every path: direct, direct written through to the cache (a large
    /// buffered PUT), and through the cache.
    @Test(arguments: [(300_000, false), (3 << 20 + 123, true), (300_000, true)])
    func aPatchOfASharedObjectChangesItAlone(size: Int, buffered: Bool) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(size, seed: 2)
        let upload = try engine.openWrite(volume: "vol", key: "src", WriteOptions(io: buffered ? .buffered : .direct, length: Int64(size)))
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        _ = try Self.copy(engine, "src", "dst")
        #expect(try Scratch.readObject(engine, "vol", "dst") == data)

        let patch = Scratch.splitMixBytes(5_000, seed: 3)
        try Self.patch(engine, "src", at: 10_000, patch, sync: false)
        var patched = data
        patched.replaceSubrange(10_000..<15_000, with: patch)
        #expect(try Scratch.readObject(engine, "vol", "src") == patched)
        #expect(try Scratch.readObject(engine, "vol", "dst") == data, "the copy is not patched with its source")
        try Self.expectConsistent(engine, "source patched")

        try Self.patch(engine, "dst", at: Int64(size - 1_000), patch, sync: true)
        var grown = data
        grown.replaceSubrange(size - 1_000..<size, with: patch[0..<1_000])
        grown += patch[1_000...]
        #expect(try Scratch.readObject(engine, "vol", "dst") == grown)
        #expect(try Scratch.readObject(engine, "vol", "src") == patched)
        try Self.expectConsistent(engine, "copy patched")
        // Now neither shares: a PATCH is spliced again, and the bytes stay right.
        try Self.patch(engine, "dst", at: 0, patch, sync: false)
        grown.replaceSubrange(0..<5_000, with: patch)
        #expect(try Scratch.readObject(engine, "vol", "dst") == grown)
        try Self.expectConsistent(engine, "copy patched again")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func copiesOntoThemselvesAndOfCopiesKeepTheirBytes() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(200_000, seed: 4)
        try Scratch.upload(engine, "vol", "a", data)
        let allocated = try engine.pool().allocatedBytes

        let replaced = try Self.copy(engine, "a", "a", metadata: .replace(contentType: "text/plain", metadata: ["x-amz-meta-k": "v"]))
        #expect(replaced.metadata == ["x-amz-meta-k": "v"] && replaced.contentType == "text/plain")
        #expect(try Scratch.readObject(engine, "vol", "a") == data)
        _ = try Self.copy(engine, "a", "b")
        _ = try Self.copy(engine, "b", "c")
        _ = try Self.copy(engine, "c", "c")
        #expect(try engine.pool().allocatedBytes == allocated)
        try Self.expectConsistent(engine, "copied")
        for (doomed, left) in [("b", ["a", "c"]), ("a", ["c"])] {
            try engine.deleteObject(volume: "vol", key: doomed)
            for key in left { #expect(try Scratch.readObject(engine, "vol", key) == data, "\(key) after \(doomed) went") }
            try Self.expectConsistent(engine, "\(doomed) deleted")
        }
        // Overwritten on every path: the bytes left are the last copy's.
        try Scratch.bufferedUpload(engine, "vol", "a", [1, 2, 3], sync: false)
        _ = try Self.copy(engine, "c", "a")
        try Scratch.upload(engine, "vol", "c", [4, 5])
        #expect(try Scratch.readObject(engine, "vol", "a") == data)
        try Self.expectConsistent(engine, "overwritten")
        #expect(try engine.pool().allocatedBytes == allocated + 4096, "one more block: c's new bytes")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func copiesAndSnapshotsFreeExactlyWhatNothingHolds() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(100_000, seed: 5)
        try Scratch.upload(engine, "vol", "a", data)
        let allocated = try engine.pool().allocatedBytes
        _ = try Self.copy(engine, "a", "b")
        _ = try engine.createSnapshot(volume: "vol", snapshot: "s")
        try engine.deleteObject(volume: "vol", key: "a")
        #expect(try engine.volume(named: "vol").snapshotBytes == 0, "b still reads them: not held by the snapshot alone")
        try engine.deleteObject(volume: "vol", key: "b")
        #expect(try engine.volume(named: "vol").snapshotBytes == Int64(data.count))
        #expect(try engine.pool().allocatedBytes == allocated)
        try Self.expectConsistent(engine, "deleted under a snapshot")
        let reader = try engine.openObject(volume: "vol", key: "a", snapshot: "s")
        #expect(try Scratch.readAll(count: data.count) { at, buffer in try reader.read(at: at, into: buffer) } == data)
        reader.close()
        try engine.deleteSnapshot(volume: "vol", snapshot: "s")
        try Self.expectConsistent(engine, "snapshot deleted")
        #expect(try engine.pool().allocatedBytes == 0)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension CopyShareTests {
    /// The model: what each key holds and which bytes (an identity per write) it reads; a copy
    /// reads the same bytes as its source. A snapshot is a view of the keys as they were.
    struct Model {
        var live: [String: (bytes: [UInt8], identity: Int)] = [:]
        var snapshots: [String: [String: (bytes: [UInt8], identity: Int)]] = [:]
        var identities = 0

        mutating func write(_ key: String, _ bytes: [UInt8]?) {
            identities += 1
            live[key] = bytes.map { ($0, identities) }
        }

        /// Every distinct set of bytes something reads, counted once: what the volume uses.
        var usedBytes: Int64 { Self.sum(live.values.map { $0 } + snapshots.values.flatMap(\.values)) }
        /// Bytes only snapshots read.
        var snapshotBytes: Int64 {
            let read = Set(live.values.map(\.identity))
            return Self.sum(snapshots.values.flatMap(\.values).filter { !read.contains($0.identity) })
        }

        static func sum(_ rows: [(bytes: [UInt8], identity: Int)]) -> Int64 {
            Dictionary(rows.map { ($0.identity, Int64($0.bytes.count)) }, uniquingKeysWith: { a, _ in a }).values.reduce(0, +)
        }
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func copiesAgreeWithTheModel(seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        var random = SplitMix(state: seed)
        var model = Model()
        let keys = ["a", "b", "c", "d"]
        var (copies, taken) = (0, 0)
        for step in 0..<200 {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            let context = "seed \(seed) step \(step) key \(key)"
            switch random.next() % 100 {
            case 0..<25:  // PUT, on any path
                model.write(key, try Scratch.putOnAnyPath(engine, "vol", key, sizes: SnapshotModelTests.sizes, random: &random).bytes)
            case 25..<45:  // PATCH, buffered (spliced, or written whole when shared)
                guard let current = model.live[key]?.bytes else { continue }
                let offset = Int(random.next() % UInt64(current.count + 5_000))
                let patch = Scratch.splitMixBytes(1 + Int(random.next() % 9_000), seed: random.next())
                try Self.patch(engine, key, at: Int64(offset), patch, sync: random.next() % 2 == 0)
                var bytes = current + [UInt8](repeating: 0, count: max(0, offset + patch.count - current.count))
                bytes.replaceSubrange(offset..<offset + patch.count, with: patch)
                model.write(key, bytes)
            case 45..<70:  // COPY (onto itself too)
                let target = keys[Int(random.next() % UInt64(keys.count))]
                guard let source = model.live[key] else {
                    #expect(throws: EngineError.objectNotFound(volume: "vol", key: key), "\(context)") { try Self.copy(engine, key, target) }
                    continue
                }
                _ = try Self.copy(
                    engine, key, target, metadata: key == target ? .replace(contentType: nil, metadata: [:]) : .copy, reading: random.next() % 2 == 0)
                model.live[target] = source
                copies += 1
            case 70..<80:  // DELETE
                guard model.live[key] != nil else { continue }
                try engine.deleteObject(volume: "vol", key: key)
                model.write(key, nil)
            case 80..<86:  // a snapshot taken
                let name = "s\(taken)"
                taken += 1
                _ = try engine.createSnapshot(volume: "vol", snapshot: name)
                model.snapshots[name] = model.live
            case 86..<92:  // a snapshot deleted
                guard let name = model.snapshots.keys.sorted().randomElement(using: &random) else { continue }
                try engine.deleteSnapshot(volume: "vol", snapshot: name)
                model.snapshots[name] = nil
            case 92..<96:
                engine.shutdown()
                engine = try Scratch.engine(dir)
            default:
                try engine.flushVolume(named: "vol")
            }
            for key in keys {
                if let bytes = model.live[key]?.bytes {
                    #expect(try Scratch.readObject(engine, "vol", key) == bytes, "\(context): \(key)")
                } else {
                    #expect(throws: EngineError.objectNotFound(volume: "vol", key: key), "\(context): \(key) deleted") {
                        try engine.openObject(volume: "vol", key: key)
                    }
                }
            }
            for (name, view) in model.snapshots {
                for (key, held) in view {
                    let reader = try engine.openObject(volume: "vol", key: key, snapshot: name)
                    defer { reader.close() }
                    let read = try Scratch.readAll(count: held.bytes.count) { at, buffer in try reader.read(at: at, into: buffer) }
                    #expect(read == held.bytes, "\(context): \(key) in \(name)")
                }
            }
            try Self.expectConsistent(engine, context)
            let volume = try engine.volume(named: "vol")
            #expect(volume.usedBytes == model.usedBytes, "\(context): used bytes")
            #expect(volume.snapshotBytes == model.snapshotBytes, "\(context): snapshot bytes")
            #expect(volume.objectCount == Int64(model.live.count), "\(context): objects")
        }
        #expect(copies > 20 && taken > 3, "the run made \(copies) copies and \(taken) snapshots")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension CopyShareTests {
    /// Writers PUT and PATCH whole pages of the same keys (each page one repeated byte) while
    /// copiers copy them onto each other: whatever interleaving, every page of every object is
    /// one a writer wrote whole (a PATCH spliced over extents a copy shares would leave pages of
    /// mixed bytes, or overlapping space), the counters equal a recount, the space audit is
    /// clean and every checksum verifies.
    @Test func copiesAndPatchesOfTheSameKeysAtOnce() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        let keys = ["a", "b", "c"]
        let pages = 16
        @Sendable func page(_ value: UInt8) -> [UInt8] { [UInt8](repeating: value, count: 4096) }
        for (i, key) in keys.enumerated() { try Scratch.upload(engine, "vol", key, (0..<pages).flatMap { _ in page(UInt8(i + 1)) }) }
        let failures = Lock<[String]>([])
        let copied = Atomic<Int>(0)
        let body: @Sendable (Int) -> Void = { thread in
            var random = SplitMix(state: UInt64(thread) + 101)
            for step in 0..<60 {
                let key = keys[Int(random.next() % UInt64(keys.count))]
                let value = UInt8(truncatingIfNeeded: random.next() % 250 + 4)
                do {
                    switch thread {
                    case 0, 1:  // PATCHes of whole pages, async and sync
                        let at = Int64(random.next() % UInt64(pages)) * 4096
                        let count = 1 + Int(random.next() % 3)
                        try Self.patch(
                            engine, key, at: min(at, Int64(pages - count) * 4096), (0..<count).flatMap { _ in page(value) },
                            sync: random.next() % 2 == 0)
                    case 2:  // PUTs, buffered and direct
                        let bytes = (0..<pages).flatMap { _ in page(value) }
                        if random.next() % 2 == 0 {
                            try Scratch.bufferedUpload(engine, "vol", key, bytes, sync: false)
                        } else {
                            try Scratch.upload(engine, "vol", key, bytes)
                        }
                    default:  // copies onto each other
                        _ = try Self.copy(engine, key, keys[Int(random.next() % UInt64(keys.count))])
                        copied.add(1, ordering: .relaxed)
                    }
                } catch {
                    failures.withLock { $0.append("thread \(thread) step \(step): \(error)") }
                }
            }
        }
        Scratch.onThreads(5, body)
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        #expect(copied.load(ordering: .relaxed) == 120)
        for key in keys {
            let bytes = try Scratch.readObject(engine, "vol", key)
            #expect(bytes.count == pages * 4096)
            for p in 0..<bytes.count / 4096 where Set(bytes[p * 4096..<(p + 1) * 4096]).count != 1 {
                Issue.record("\(key) page \(p) mixes bytes of different writes")
            }
        }
        try Self.expectConsistent(engine, "after the load")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension CopyShareTests {
    /// Replacing an object whose bytes a copy shares frees nothing (the copy keeps them, and
    /// counts them once it owns them), so the replaced size is no credit against the quota: an
    /// overwrite that would take the volume past it is refused up front, on every path.
    @Test(arguments: [ObjectIO.direct, .buffered])
    func anOverwriteOfSharedBytesGetsNoQuotaCredit(io: ObjectIO) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol", capacity: 1 << 20)
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(600_000, seed: 6)
        try Scratch.upload(engine, "vol", "src", data)
        _ = try Self.copy(engine, "src", "dst")
        for key in ["src", "dst"] {
            #expect(throws: EngineError.self, "\(key): its bytes stay the other's") {
                let upload = try engine.openWrite(volume: "vol", key: key, WriteOptions(io: io, sync: false, length: Int64(data.count)))
                try data.withUnsafeBytes { try upload.append($0) }
                _ = try upload.commit(etag: nil)
            }
        }
        try Self.expectConsistent(engine, "refused")
        #expect(try engine.volume(named: "vol").usedBytes == Int64(data.count))
        // Once nothing shares them, an overwrite is credited with what it replaces again.
        try engine.deleteObject(volume: "vol", key: "dst")
        let upload = try engine.openWrite(volume: "vol", key: "src", WriteOptions(io: io, sync: false, length: Int64(data.count)))
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        try Self.expectConsistent(engine, "accepted")
    }
}
