import Foundation
import Testing

// Pages live as long as the cache (or a reader of their version) needs them, not as long as the
// upload that wrote them: a finished upload still referenced by its caller holds no page.
@testable import Engine

@Suite struct PageLifetimeTests {
    @Test func aFinishedUploadDoesNotKeepItsPages() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(64 << 10)
        let upload = try Scratch.bufferedUpload(engine, "vol", "k", data, sync: false)
        weak var page: Page?
        weak var object: CachedObject?
        engine.pageCache.state.withLock { state in
            object = state.objects.values.first
            page = object?.pages[0]
        }
        #expect(page != nil, "the upload's pages are cached")
        try engine.flushVolume(named: "vol")
        try engine.deleteObject(volume: "vol", key: "k")
        withExtendedLifetime(upload) {
            #expect(object == nil, "the deleted object is still referenced")
            #expect(page == nil, "the deleted object's page is still referenced")
        }
    }

    /// Replacing an object over and over in a cache that never fills (so eviction never runs)
    /// leaves the CLOCK ring bounded by the pages, not by the pages ever written.
    @Test func theClockRingStaysBoundedWhenTheCacheNeverFills() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(256 << 10)
        for _ in 0..<200 { try Scratch.bufferedUpload(engine, "vol", "k", data, sync: true) }
        let (entries, pages) = engine.pageCache.state.withLock { ($0.clock.count, $0.pageCount) }
        #expect(pages == 64)
        #expect(entries <= 2 * pages + 4096, "\(entries) CLOCK entries for \(pages) cached pages")
        try Scratch.bufferedUpload(engine, "vol", "k", data, sync: true)
        let reader = try engine.openBuffered(volume: "vol", key: "k")
        defer { reader.close() }
        let back = try Scratch.readAll(count: data.count) { try reader.read(at: $0, into: $1) }
        #expect(back == data)
    }
}
