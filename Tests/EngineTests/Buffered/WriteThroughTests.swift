import Foundation
import Testing

// Direct uploads made in buffered mode leave their version in the cache, clean; cached ranges
// are lent to responses as pinned pages that a later write does not change under them.
@testable import Engine

@Suite struct WriteThroughTests {
    private func upload(_ engine: Engine, _ key: String, _ data: [UInt8], cacheThrough: Bool = true) throws {
        try Scratch.upload(engine, "wtvol", key, data, cacheThrough: cacheThrough)
    }

    private func readBuffered(_ engine: Engine, _ key: String, count: Int) throws -> [UInt8] {
        let reader = try engine.openBuffered(volume: "wtvol", key: key)
        defer { reader.close() }
        return try Scratch.readAll(count: count) { try reader.read(at: $0, into: $1) }
    }

    private var staged: (Engine) -> Int { { engine in engine.pageCache.state.withLock { $0.staged } } }

    @Test func aWrittenThroughVersionIsCachedCleanAndReadWithoutMisses() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "wtvol", capacity: 128 << 20, replicas: 2)
        defer { engine.shutdown() }
        // Three extents, the last one ending inside a sector.
        let data = Scratch.randomBytes(ObjectWriter.extentBytes * 2 + 4096 * 3 + 7)
        try upload(engine, "k", data)
        let pages = (data.count + PageState.pageSize - 1) / PageState.pageSize
        let stats = try engine.cacheStats(volume: "wtvol")
        #expect(stats.cachedPages == Int64(pages))
        #expect(stats.dirtyPages == 0 && stats.reservedBytes == 0, "written through: clean, nothing reserved")
        #expect(staged(engine) == 0, "the staged frames moved into the cache")
        #expect(try readBuffered(engine, "k", count: data.count) == data)
        let after = try engine.cacheStats(volume: "wtvol")
        #expect(after.misses == stats.misses, "every page came from the cache")
        // The cached pages know their sectors are on disk twice: overwriting them reserves nothing.
        let reservation = try engine.patchReservation(
            volume: try engine.volumeRecord(named: "wtvol"), key: "k", offset: 4096, length: 8192, alreadyLogical: 0)
        #expect(reservation.physical == 0 && reservation.logical == 0)

        // A replacement written through replaces the cached version; the disk has it too.
        let next = Scratch.randomBytes(3 * 4096 + 100)
        try upload(engine, "k", next)
        #expect(try engine.cacheStats(volume: "wtvol").cachedPages == 4)
        #expect(try readBuffered(engine, "k", count: next.count) == next)
        let direct = try engine.openObject(volume: "wtvol", key: "k")
        defer { direct.close() }
        #expect(try Scratch.readAll(count: next.count) { try direct.read(at: $0, into: $1) } == next)
        #expect(engine.reservationFigures().pagesReserved == engine.reservationFigures().accounted)
    }

    @Test func anAbortedOrDirectUploadLeavesNothingStaged() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "wtvol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(ObjectWriter.extentBytes + 12_345)
        let writer = try engine.beginUpload(volume: "wtvol", key: "gone", contentType: nil, length: Int64(data.count) + 1, cacheThrough: true)
        try data.withUnsafeBytes { try writer.append($0) }
        #expect(throws: EngineError.self) { _ = try writer.commit() }  // One byte short.
        #expect(staged(engine) == 0)
        #expect(try engine.cacheStats(volume: "wtvol").cachedPages == 0)

        try upload(engine, "plain", data, cacheThrough: false)
        #expect(try engine.cacheStats(volume: "wtvol").cachedPages == 0, "io=direct uploads stay out of the cache")
        #expect(staged(engine) == 0)
    }

    @Test func pinnedPagesKeepTheirBytesWhileAPatchGoesToACopy() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "wtvol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(5 * 4096 + 10)
        try upload(engine, "k", data)

        let reader = try engine.openBuffered(volume: "wtvol", key: "k")
        #expect(reader.pin(at: 0, length: Int64(data.count), maxSegments: 0) == nil, "too many memory runs: nothing pinned")
        let pinned = try #require(reader.pin(at: 100, length: Int64(data.count - 200), maxSegments: 64))
        reader.close()
        #expect(pinned.length == Int64(data.count - 200))
        func sent() -> [UInt8] { pinned.segments.flatMap { Array(UnsafeRawBufferPointer(start: $0.base, count: $0.count)) } }
        #expect(sent() == Array(data[100..<data.count - 100]))

        let patch = [UInt8](repeating: 0xAB, count: 8192)
        try Scratch.bufferedUpload(engine, "wtvol", "k", patch, mode: .patch(offset: 4096), sync: true)
        #expect(sent() == Array(data[100..<data.count - 100]), "the pinned snapshot is unchanged")
        var expected = data
        expected.replaceSubrange(4096..<4096 + 8192, with: patch)
        #expect(try readBuffered(engine, "k", count: data.count) == expected, "new reads see the patch")
        pinned.release()
        pinned.release()  // Idempotent.
        let pins = engine.pageCache.state.withLock { state in
            state.objects.values.flatMap { $0.pages.values }.reduce(0) { $0 + $1.sendPins }
        }
        #expect(pins == 0)
    }
}
