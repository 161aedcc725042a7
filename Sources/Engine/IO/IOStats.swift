// IO counters per volume and per device, and the engine IO latency histogram: the figures
// `/metrics` exposes. Updated once per IO batch, not per byte.
import Synchronization

package struct IOCounters: Sendable, Equatable {
    package var bytesRead: Int64 = 0
    package var bytesWritten: Int64 = 0
    package var readOps: Int64 = 0
    package var writeOps: Int64 = 0
    package var ioErrors: Int64 = 0
    package var checksumErrors: Int64 = 0

    package init() {}
}

package struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds in seconds.
    package static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]
    package var counts = [Int64](repeating: 0, count: bounds.count + 1)
    package var sum: Double = 0
    package var count: Int64 = 0

    package init() {}

    mutating func observe(_ seconds: Double) {
        let index = Self.bounds.firstIndex { seconds <= $0 } ?? Self.bounds.count
        counts[index] += 1
        sum += seconds
        count += 1
    }

    mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] += other.counts[i] }
        sum += other.sum
        count += other.count
    }
}

/// Reads completed by one caller, kept locally and recorded with one lock acquisition
/// (`IOStats.record`): devices by slot, so the per-read path hashes no device id.
struct ReadTally {
    private(set) var devices: [(id: String, bytes: Int64, ops: Int64)] = []
    private(set) var latency = LatencyHistogram()

    /// The slot of device `id` (linear: a read touches a handful of devices).
    mutating func slot(_ id: String) -> Int {
        if let index = devices.firstIndex(where: { $0.id == id }) { return index }
        devices.append((id, 0, 0))
        return devices.count - 1
    }

    mutating func read(slot: Int, bytes: Int, since start: ContinuousClock.Instant) {
        devices[slot].bytes += Int64(bytes)
        devices[slot].ops += 1
        let elapsed = ContinuousClock.now - start
        latency.observe(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

package struct IOStatsSnapshot: Sendable, Equatable {
    package var volumes: [String: IOCounters]
    package var devices: [String: IOCounters]
    package var latency: [String: LatencyHistogram]
    /// Object-level bytes and ops keyed by "volume|mode" (mode: buffered or direct).
    package var modes: [String: IOCounters]
}

final class IOStats: Sendable {
    private struct State {
        var volumes: [String: IOCounters] = [:]
        var devices: [String: IOCounters] = [:]
        /// By operation: read, write, sync.
        var latency: [String: LatencyHistogram] = [:]
        var modes: [String: IOCounters] = [:]
    }

    private let state = Lock(State())

    func volume(_ name: String, _ update: (inout IOCounters) -> Void) {
        state.withLock { update(&$0.volumes[name, default: IOCounters()]) }
    }

    func device(_ id: String, _ update: (inout IOCounters) -> Void) {
        state.withLock { update(&$0.devices[id, default: IOCounters()]) }
    }

    func mode(_ volume: String, _ mode: String, _ update: (inout IOCounters) -> Void) {
        state.withLock { update(&$0.modes[volume + "|" + mode, default: IOCounters()]) }
    }

    /// A completed read: device counters and latency in one lock acquisition (the hot path).
    func recordRead(device id: String, bytes: Int64, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.withLock { state in
            state.devices[id, default: IOCounters()].bytesRead += bytes
            state.devices[id, default: IOCounters()].readOps += 1
            state.latency["read", default: LatencyHistogram()].observe(seconds)
        }
    }

    /// Many completed reads at once (see `ReadTally`).
    func record(_ tally: ReadTally) {
        guard tally.latency.count > 0 else { return }
        state.withLock { state in
            for device in tally.devices {
                state.devices[device.id, default: IOCounters()].bytesRead += device.bytes
                state.devices[device.id, default: IOCounters()].readOps += device.ops
            }
            state.latency["read", default: LatencyHistogram()].merge(tally.latency)
        }
    }

    /// One object read finished: volume and per-mode counters in one lock acquisition.
    func recordObjectRead(volume: String, mode: String, bytes: Int64) {
        state.withLock { state in
            state.volumes[volume, default: IOCounters()].bytesRead += bytes
            state.volumes[volume, default: IOCounters()].readOps += 1
            state.modes[volume + "|" + mode, default: IOCounters()].bytesRead += bytes
            state.modes[volume + "|" + mode, default: IOCounters()].readOps += 1
        }
    }

    func observe(_ operation: String, since start: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        state.withLock { $0.latency[operation, default: LatencyHistogram()].observe(seconds) }
    }

    func forgetVolume(_ name: String) {
        state.withLock { state in
            state.volumes[name] = nil
            state.modes = state.modes.filter { !$0.key.hasPrefix(name + "|") }
        }
    }

    var snapshot: IOStatsSnapshot {
        state.withLock { IOStatsSnapshot(volumes: $0.volumes, devices: $0.devices, latency: $0.latency, modes: $0.modes) }
    }
}
