// Pages live as long as the cache (or a reader of their version) needs them, not as long as the
// upload that wrote them: a finished upload still referenced by its caller holds no page.
@testable import Engine
import Foundation
import Testing

@Suite struct PageLifetimeTests {
    @Test func aFinishedUploadDoesNotKeepItsPages() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(64 << 10)
        let upload = try engine.beginBufferedUpload(volume: "vol", key: "k", contentType: nil, length: Int64(data.count), mode: .replace)
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.finish(sync: false)
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
}
