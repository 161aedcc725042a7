// A volume that starts keeping rows (versioning turned on) while buffered writes are under way:
// the change waits for them and writes them back first, so no write through the cache is ever
// spliced over a row that is kept.
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct CacheAdmissionTests {
    /// A buffered PATCH opened before versioning is turned on and applied after a versioned PUT
    /// would splice its page over the extents of a version that is kept, and free some of them.
    /// Turning versioning on waits for the PATCH instead: every version reads back whole and the
    /// space audit is clean.
    @Test func versioningWaitsForAPatchUnderWay() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let base = Scratch.splitMixBytes(64 << 10, seed: 1)
        try Scratch.upload(engine, "vol", "k", base)
        let page = Scratch.splitMixBytes(4096, seed: 2)
        let patch = try engine.openPatch(volume: "vol", key: "k", offset: 4096, length: 4096, io: .buffered, sync: false)
        try page.withUnsafeBytes { try patch.append($0) }

        let turnedOn = Atomic<Bool>(false)
        let thread = Thread {
            _ = try? engine.setVersioning(named: "vol", .enabled)
            turnedOn.store(true, ordering: .sequentiallyConsistent)
        }
        thread.start()
        Thread.sleep(forTimeInterval: 0.2)
        let turnedOnEarly = turnedOn.load(ordering: .sequentiallyConsistent)
        #expect(!turnedOnEarly, "versioning waits for the PATCH under way")
        // Written while the change waits: the PUT it patches.
        let replaced = Scratch.splitMixBytes(64 << 10, seed: 3)
        try Scratch.upload(engine, "vol", "k", replaced)
        _ = try patch.commit(etag: nil)
        for _ in 0..<500 where !turnedOn.load(ordering: .sequentiallyConsistent) { Thread.sleep(forTimeInterval: 0.01) }
        let turnedOnAtLast = turnedOn.load(ordering: .sequentiallyConsistent)
        #expect(turnedOnAtLast)
        #expect(try engine.volume(named: "vol").versioning == .enabled)

        var patched = replaced
        patched.replaceSubrange(4096..<8192, with: page)
        let newest = Scratch.splitMixBytes(64 << 10, seed: 4)
        try Scratch.upload(engine, "vol", "k", newest)
        #expect(try Scratch.readObject(engine, "vol", "k") == newest)
        let null = try engine.openObject(volume: "vol", key: "k", version: .null)
        defer { null.close() }
        #expect(try Scratch.readAll(count: patched.count) { at, buffer in try null.read(at: at, into: buffer) } == patched)
        #expect(engine.spaceAudit().isEmpty, "\(engine.spaceAudit())")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    /// A change finds a buffered write still under way at its deadline: it gives up, and the
    /// volume admits writes again.
    @Test func aChangeGivesUpOnWritesThatDoNotEnd() {
        let admission = CacheAdmission()
        #expect(admission.enter(7))
        #expect(!admission.closeAndDrain(7, seconds: 0.03))
        #expect(admission.enter(7))
        admission.leave(7)
        admission.leave(7)
        #expect(admission.closeAndDrain(7, seconds: 0.03))
        #expect(!admission.enter(7))
        admission.reopen(7)
        #expect(admission.enter(7))
        admission.leave(7)
    }
}
