// Idle rings, checked out per call so a thread gets a ring without creating one per request.
// A ring is used by one thread at a time: withRing runs its body on the calling thread.
import Synchronization

package final class RingPool: Sendable {
    private let entries: UInt32
    private let maxIdle: Int
    private let idle = Lock<[IdleRing]>([])
    /// The pool's write fence, which every ring of this pool asks before a write.
    package let fence: WriteFence

    /// Rings only move between threads through the pool's lock, never shared while in use.
    private struct IdleRing: @unchecked Sendable {
        let ring: Ring
    }

    package init(entries: UInt32 = 128, maxIdle: Int = 64, fence: WriteFence = WriteFence()) {
        precondition(maxIdle >= 0, "RingPool: maxIdle \(maxIdle)")
        self.fence = fence
        self.entries = entries
        self.maxIdle = maxIdle
    }

    /// Checks out an idle ring (creating one if none is idle), runs body on this thread, returns the
    /// ring to the pool (or closes it when `maxIdle` are already idle). The ring must not escape body.
    package func withRing<T, E: Error>(_ body: (Ring) throws(E) -> T) throws(E) -> T {
        let ring = checkOut()
        defer { checkIn(ring) }
        return try body(ring)
    }

    /// For an owner that issues IO from one thread at a time over a long stretch (a reader of one
    /// object): take a ring for its lifetime and give it back with `checkIn`.
    package func take() -> Ring { checkOut() }

    package func give(_ ring: Ring) { checkIn(ring) }

    private func checkOut() -> Ring {
        if let reused = idle.withLock({ $0.popLast() }) { return reused.ring }
        do {
            return try Ring(entries: entries, fence: fence)
        } catch {
            preconditionFailure(
                "io_uring is required: \(error.call) failed with errno \(error.errno) (\(Syscalls.describe(errno: error.errno)))")
        }
    }

    private func checkIn(_ ring: Ring) {
        let returned = IdleRing(ring: ring)
        // Closing a surplus ring (its deinit) happens outside the lock.
        let surplus: IdleRing? = idle.withLock { rings in
            guard rings.count < maxIdle else { return returned }
            rings.append(returned)
            return nil
        }
        _ = surplus
    }
}
