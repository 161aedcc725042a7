import Foundation
// The background flusher: writes back objects dirty for longer than `maxAge`, and the oldest
// dirty objects while the cache holds more dirty pages than the background limit. Writers above
// the hard limit write back themselves before adding more (they wait; they never fail).
import Logging
import Synchronization

final class WritebackScheduler: Sendable {
    static let interval = 0.2
    let maxAge: Duration = .seconds(3)
    private let task = Mutex<PeriodicTask?>(nil)

    func start(_ engine: Engine) {
        let maxAge = maxAge
        let flusher = PeriodicTask(name: "writeback", period: { Self.interval }) { [weak engine] in
            guard let engine else { return false }
            engine.backgroundWriteback(maxAge: maxAge)
            return true
        }
        task.withLock { $0 = flusher }
    }

    /// Stops the flusher and waits for a pass under way.
    func stop() {
        task.withLock { $0.take() }?.stop(seconds: nil)
    }
}

extension Engine {
    var backgroundDirtyLimit: Int { pageCache.capacityPages / 10 }
    var hardDirtyLimit: Int { pageCache.capacityPages / 4 }

    /// One pass of the background flusher.
    func backgroundWriteback(maxAge: Duration) {
        let now = ContinuousClock.now
        let (candidates, dirty) = pageCache.writebackCandidates(now: now)
        let over = dirty > backgroundDirtyLimit
        let due = candidates.filter { over || now - $0.1 >= maxAge }.map(\.0)
        // Several objects at once, so that their commits share device flushes and catalog
        // transactions (group commit); past the limit, until it is well under it again.
        flushEach(due, width: Self.writebackWidth) { [self] in !over || pageCache.dirtyPages > backgroundDirtyLimit / 2 }
    }

    static let writebackWidth = 8
    /// Objects written back at once by a flush someone waits for (`POST …/flush`, shutdown): wider
    /// groups (measured with 4 KiB async PUTs: 7,300–7,550 objects/s at 8, 9,400–10,100 at 24).
    static let flushWidth = 24
    /// Keys a helper takes at a time (`flushBatch`: their inline objects committed in one go).
    static let writebackBatch = 32

    /// Writes back `keys` on `width` of the engine's workers, each taking the next keys while
    /// `more()` holds, so that their commits share catalog transactions and device flushes (group
    /// commit). Returns the keys whose flush failed, with the error, in `keys`' order; a failed
    /// object stays dirty and keeps its error for its next flush.
    @discardableResult
    func flushEach(_ keys: [CacheKey], width: Int, while more: @escaping @Sendable () -> Bool = { true }) -> [(CacheKey, EngineError)] {
        guard !keys.isEmpty else { return [] }
        if keys.count == 1 {
            do throws(EngineError) {
                try flushObject(keys[0])
                return []
            } catch {
                return [(keys[0], error)]
            }
        }
        // Each helper takes `share` keys at a time (its inline objects committed together), as
        // many as leaves every helper work, at most `writebackBatch`.
        let share = max(1, min(Self.writebackBatch, keys.count / width))
        let next = Atomic<Int>(0)
        let failures = Mutex<[(Int, EngineError)]>([])
        let done = DispatchGroup()
        withExtendedLifetime(next) {
            for _ in 0..<min(width, keys.count) {
                done.enter()
                workers.run { [self] in
                    while more() {
                        let i = next.add(share, ordering: .relaxed).oldValue
                        guard i < keys.count else { break }
                        let failed = flushBatch(keys[i..<min(i + share, keys.count)])
                        if !failed.isEmpty { failures.withLock { $0 += failed } }
                    }
                    done.leave()
                }
            }
            done.wait()
        }
        return failures.withLock { $0 }.sorted { $0.0 < $1.0 }.map { (keys[$0.0], $0.1) }
    }

    /// Called by writers before they add dirty pages: above the hard limit, write back the oldest
    /// dirty objects first (the writer waits, it does not fail).
    func throttleWriters() {
        guard pageCache.dirtyPages > hardDirtyLimit else { return }
        EventLoopGuard.assertMayWait("throttling a writer")
        pageCache.countThrottled()
        for _ in 0..<1000 {
            let (dirty, epoch) = pageCache.dirtyPagesAndRoom
            guard dirty > hardDirtyLimit else { return }
            if !writeBackOldest() { pageCache.waitForRoom(after: epoch) }
        }
    }

    /// Writes back the object dirty the longest (not already being written back); false when
    /// there is none.
    @discardableResult
    func writeBackOldest() -> Bool {
        guard let oldest = pageCache.oldestDirtyKey() else { return false }
        try? flushObject(oldest)  // An error is kept on the object and reported by the next flush.
        return true
    }
}
