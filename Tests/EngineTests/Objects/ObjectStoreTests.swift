// The front door: openWrite picks the path from the options (buffered through the cache, async
// left dirty, direct past it, a large sync buffered write to the direct writer), openPatch checks
// a direct range's alignment, and a server-side copy honours its conditions.
import Catalog
import Foundation
import Testing

@testable import Engine

@Suite struct ObjectStoreTests {
    static func put(_ engine: Engine, _ key: String, _ data: [UInt8], _ options: WriteOptions) throws -> ObjectInfo {
        var options = options
        options.length = Int64(data.count)
        let upload = try engine.openWrite(volume: "vol", key: key, options)
        try data.withUnsafeBytes { try upload.append($0) }
        return try upload.commit(etag: nil)
    }

    @Test func openWritePicksThePathFromTheOptions() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(64 << 10, seed: 3)

        _ = try Self.put(engine, "sync", data, WriteOptions(io: .buffered, sync: true))
        var stats = try engine.cacheStats(volume: "vol")
        #expect(stats.cachedPages == 16 && stats.dirtyPages == 0, "a sync buffered PUT is written back and stays cached")

        _ = try Self.put(engine, "async", data, WriteOptions(io: .buffered, sync: false))
        stats = try engine.cacheStats(volume: "vol")
        #expect(stats.dirtyPages == 16, "an async PUT is left dirty in the cache")
        try engine.flushVolume(named: "vol")

        let before = try engine.cacheStats(volume: "vol").cachedPages
        _ = try Self.put(engine, "direct", data, WriteOptions(io: .direct, sync: true))
        #expect(try engine.cacheStats(volume: "vol").cachedPages == before, "a direct PUT does not go through the cache")
        for key in ["sync", "async", "direct"] { #expect(try Scratch.readObject(engine, "vol", key) == data, "\(key)") }
    }

    @Test func aDirectPatchMustBeAligned() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        _ = try Self.put(engine, "k", [UInt8](repeating: 1, count: 8192), WriteOptions())
        #expect(throws: EngineError.self) { try engine.openPatch(volume: "vol", key: "k", offset: 100, length: 10, io: .direct, sync: true) }
        let aligned = try engine.openPatch(volume: "vol", key: "k", offset: 4096, length: 4096, io: .direct, sync: true)
        try [UInt8](repeating: 2, count: 4096).withUnsafeBytes { try aligned.append($0) }
        _ = try aligned.commit(etag: nil)
        #expect(try Scratch.readObject(engine, "vol", "k") == [UInt8](repeating: 1, count: 4096) + [UInt8](repeating: 2, count: 4096))
    }

    final class CountingDigest: ObjectDigest {
        var bytes = 0
        func update(_ bytes: UnsafeRawBufferPointer) { self.bytes += bytes.count }
        func finish() -> String { "copied-\(bytes)" }
        func etag(ofCopyOf source: ObjectInfo) -> String? { nil }
        func reset() { self.bytes = 0 }
    }

    @Test func aCopyHonoursItsConditionsAndWritesNothingWhenTheyFail() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(100_000, seed: 9)
        let source = try Self.put(engine, "src", data, WriteOptions(metadata: ["x-amz-meta-a": "1"]))

        #expect(throws: EngineError.conditionNotMet("a copy-source condition does not hold for vol/src")) {
            try engine.copyObject(
                from: ("vol", "src"), if: ReadConditions(ifMatch: .list(["other"])), to: ("vol", "dst"), metadata: .copy, digest: CountingDigest())
        }
        #expect(throws: EngineError.self) { try engine.openBuffered(volume: "vol", key: "dst") }

        let (copied, _) = try engine.copyObject(
            from: ("vol", "src"), if: ReadConditions(ifMatch: .list([source.etag])), to: ("vol", "dst"), metadata: .copy, digest: CountingDigest())
        #expect(copied.etag == "copied-100000")
        #expect(copied.metadata == ["x-amz-meta-a": "1"])
        #expect(try Scratch.readObject(engine, "vol", "dst") == data)
    }
}
