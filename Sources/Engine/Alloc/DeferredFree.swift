// Space replaced by a copy-on-write commit is freed only once no reader that might still be
// reading the old version is active: readers pin an epoch; retired ranges wait for all readers
// pinned at or before their epoch. So do the bytes of a replaced version's inline extents, which
// the catalog keeps (RetiredBodies) from the transaction that deleted their rows until then.
import Catalog
import Synchronization

final class DeferredFree: Sendable {
    private struct Retired {
        var epoch: UInt64
        var ranges: [PhysicalRange]
        var inline: [Int64]
    }

    private struct State {
        var epoch: UInt64 = 0
        var active: [UInt64: Int] = [:]
        var pending: [Retired] = []
    }

    private let state = Lock(State())
    private let allocator: Allocator
    private let bodies: RetiredBodies

    init(allocator: Allocator, bodies: RetiredBodies) {
        self.allocator = allocator
        self.bodies = bodies
    }

    /// Call before reading an object's extents from the catalog.
    func pin() -> UInt64 {
        state.withLock { state in
            state.active[state.epoch, default: 0] += 1
            return state.epoch
        }
    }

    func unpin(_ epoch: UInt64) {
        let ready = state.withLock { state -> [Retired] in
            state.active[epoch, default: 0] -= 1
            if state.active[epoch] == 0 { state.active[epoch] = nil }
            return Self.drain(&state)
        }
        release(ready)
    }

    /// Call after the catalog commit that dropped `ranges` and the inline extents `inline` (whose
    /// bytes the catalog kept for this).
    func retire(_ ranges: [PhysicalRange], inline: [Int64]) {
        guard !ranges.isEmpty || !inline.isEmpty else { return }
        let ready = state.withLock { state -> [Retired] in
            state.pending.append(Retired(epoch: state.epoch, ranges: ranges, inline: inline))
            state.epoch += 1
            return Self.drain(&state)
        }
        release(ready)
    }

    var pendingRanges: [PhysicalRange] { state.withLock { $0.pending.flatMap(\.ranges) } }

    var pendingBytes: Int64 { state.withLock { $0.pending.flatMap(\.ranges).reduce(0) { $0 + $1.length } } }

    private func release(_ ready: [Retired]) {
        guard !ready.isEmpty else { return }
        allocator.free(ready.flatMap(\.ranges))
        bodies.drop(ready.flatMap(\.inline))
    }

    private static func drain(_ state: inout State) -> [Retired] {
        let oldestReader = state.active.keys.min() ?? .max
        guard state.pending.contains(where: { $0.epoch < oldestReader }) else { return [] }
        var ready: [Retired] = []
        state.pending.removeAll { entry in
            guard entry.epoch < oldestReader else { return false }
            ready.append(entry)
            return true
        }
        return ready
    }
}
