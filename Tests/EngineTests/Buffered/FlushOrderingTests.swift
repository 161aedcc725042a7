// A flush makes durable every async write acknowledged before it began, including one that a
// DELETE still in flight has already dropped from the cache: the flush returns only once the
// DELETE is durable, never while the disk still holds the version before. (A direct overwrite
// writes the cached version back before it drops it.) (Found by the power-cut test: a cut after such a flush showed the older version.)
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct FlushOrderingTests {
    /// Sync PUT `old`, async PUT `acknowledged`, then a DELETE on another thread; once it holds
    /// the key, flush the volume and read the catalog row at once. Returns how often the DELETE
    /// was caught holding the key; records a violation when the row was still `old`.
    private func race(rounds: Int) throws -> Int {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "flushvol")
        defer { engine.shutdown() }
        let volumeID = try engine.volumeRecord(named: "flushvol").id!
        var caught = 0
        for round in 0..<rounds {
            let key = "k\(round)"
            let old = Scratch.randomBytes(5000)
            let acknowledged = Scratch.randomBytes(7000)
            try Scratch.upload(engine, "flushvol", key, old)
            try Scratch.bufferedUpload(engine, "flushvol", key, acknowledged, sync: false)
            let finished = Atomic<Bool>(false)
            let thread = Thread {
                try? engine.deleteObject(volume: "flushvol", key: key)
                finished.store(true, ordering: .releasing)
            }
            thread.start()
            let cacheKey = CacheKey(volumeID: volumeID, key: key)
            var held = false
            while !finished.load(ordering: .acquiring), !held {
                held = engine.pageCache.state.withLock { $0.objects[cacheKey]?.lifecycle.isPlaceholder ?? false }
                if !held { usleep(20) }
            }
            try engine.flushVolume(named: "flushvol")
            let size = try engine.catalog.object(volumeID: volumeID, key: key)?.record.size
            if held {
                caught += 1
                #expect(
                    size != Int64(old.count), "round \(round): the flush returned while the catalog still had the version before the acknowledged one"
                )
            }
            while !finished.load(ordering: .acquiring) { usleep(100) }
        }
        return caught
    }

    @Test func aFlushWaitsForADeleteThatDroppedAnAcknowledgedWrite() throws {
        #expect(try race(rounds: 12) > 0, "the DELETE was never caught holding the key")
    }
}
