// Whether this process may write to its pool's devices now. A standalone pool is never fenced.
// In a fleet, the node may write only while it holds the pool's lease in etcd with a margin: the
// fleet member moves the deadline forward at each renewal (`hold(until:)`) and closes the fence
// when the lease is lost (`close`). Every write to the pool's devices asks first — the ring's
// writes (data, copies, the catalog mirror's syncs go through the same rings) and the catalog
// mirror's writes and truncations — and a refused write fails with `refusal` (EROFS), which is
// never counted against a device. The clock is the local monotonic one (CLOCK_BOOTTIME: a
// suspended machine's lease ran out too).
import Glibc
import Synchronization

package final class WriteFence: Sendable {
    /// Writes are allowed while the monotonic clock (nanoseconds) is below this; Int64.max: open.
    private let deadline: Atomic<Int64>
    private let reason = Mutex<String>("")

    /// The error a refused write fails with.
    package static let errno = EROFS
    package static let call = "write (fenced: the pool's lease is not held)"

    /// `open`: a standalone pool (no deadline); else closed until the first `hold`.
    package init(open: Bool = true) { deadline = Atomic(open ? Int64.max : 0) }

    /// Nanoseconds of the monotonic clock (CLOCK_BOOTTIME).
    package static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }

    /// Writes are allowed until `nanoseconds` on `now()`'s clock.
    package func hold(until nanoseconds: Int64) {
        deadline.store(nanoseconds, ordering: .releasing)
    }

    /// No more writes until the next `hold`.
    package func close(_ why: String) {
        reason.withLock { $0 = why }
        deadline.store(0, ordering: .releasing)
    }

    package var mayWrite: Bool {
        let until = deadline.load(ordering: .acquiring)
        return until == Int64.max || Self.now() < until
    }

    /// Why writes are refused now (nil: they are not).
    package var refusedBecause: String? {
        guard !mayWrite else { return nil }
        let why = reason.withLock { $0 }
        return why.isEmpty ? "the pool's lease in the fleet is not held with a margin left" : why
    }

    package var refusal: SyscallError { SyscallError(call: Self.call, errno: Self.errno) }

    /// Whether `error` is a fenced write's refusal.
    package static func isRefusal(_ error: SyscallError) -> Bool { error.call == call }
}
