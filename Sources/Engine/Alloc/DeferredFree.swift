// Space replaced by a copy-on-write commit is freed only once no reader that might still be
// reading the old version is active: readers pin an epoch; retired ranges wait for all readers
// pinned at or before their epoch.
import Synchronization

final class DeferredFree: Sendable {
    private struct State {
        var epoch: UInt64 = 0
        var active: [UInt64: Int] = [:]
        var pending: [(epoch: UInt64, ranges: [PhysicalRange])] = []
    }

    private let state = Lock(State())
    private let allocator: Allocator

    init(allocator: Allocator) {
        self.allocator = allocator
    }

    /// Call before reading an object's extents from the catalog.
    func pin() -> UInt64 {
        state.withLock { state in
            state.active[state.epoch, default: 0] += 1
            return state.epoch
        }
    }

    func unpin(_ epoch: UInt64) {
        let ready = state.withLock { state -> [PhysicalRange] in
            state.active[epoch, default: 0] -= 1
            if state.active[epoch] == 0 { state.active[epoch] = nil }
            return Self.drain(&state)
        }
        allocator.free(ready)
    }

    /// Call after the catalog commit that dropped `ranges`.
    func retire(_ ranges: [PhysicalRange]) {
        guard !ranges.isEmpty else { return }
        let ready = state.withLock { state -> [PhysicalRange] in
            state.pending.append((state.epoch, ranges))
            state.epoch += 1
            return Self.drain(&state)
        }
        allocator.free(ready)
    }

    var pendingRanges: [PhysicalRange] { state.withLock { $0.pending.flatMap(\.ranges) } }

    var pendingBytes: Int64 { state.withLock { $0.pending.flatMap(\.ranges).reduce(0) { $0 + $1.length } } }

    private static func drain(_ state: inout State) -> [PhysicalRange] {
        let oldestReader = state.active.keys.min() ?? .max
        var ready: [PhysicalRange] = []
        state.pending.removeAll { entry in
            guard entry.epoch < oldestReader else { return false }
            ready += entry.ranges
            return true
        }
        return ready
    }
}
