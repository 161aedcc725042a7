// The open member devices of the pool by id, and the ones that could not be opened at start
// (reported as failed). Membership decisions are in Engine+Devices; this only holds handles.
import Synchronization

final class DeviceSet: Sendable {
    private struct State {
        var open: [String: Device] = [:]
        var failed: [String: String] = [:]
    }

    private let state = Lock(State())

    func add(id: String, device: Device) {
        state.withLock {
            $0.open[id] = device
            $0.failed[id] = nil
        }
    }

    func markFailed(id: String, reason: String) {
        state.withLock {
            $0.open[id] = nil
            $0.failed[id] = reason
        }
    }

    @discardableResult
    func remove(id: String) -> Device? {
        state.withLock {
            $0.failed[id] = nil
            return $0.open.removeValue(forKey: id)
        }
    }

    func device(id: String) -> Device? { state.withLock { $0.open[id] } }

    func failureReason(id: String) -> String? { state.withLock { $0.failed[id] } }

    /// Devices that are registered but could not be opened.
    var failedCount: Int { state.withLock { $0.failed.count } }

    func removeAll() { state.withLock { $0 = State() } }
}
