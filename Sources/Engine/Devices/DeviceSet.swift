// The open member devices of the pool by id, and the ones that could not be opened at start
// (reported as failed), with where each keeps its metadata area (from its superblock).
// Membership decisions are in Engine+Devices; this only holds handles.
import Foundation
import Synchronization

final class DeviceSet: Sendable {
    /// A device's UUID and its metadata area (nil: a device from before metadata areas).
    struct Identity: Sendable, Equatable {
        var uuid: UUID
        var metadataArea: Range<Int64>?
    }

    private struct State {
        var open: [String: Device] = [:]
        var failed: [String: String] = [:]
        var identities: [String: Identity] = [:]
    }

    private let state = Lock(State())

    func add(id: String, device: Device, identity: Identity? = nil) {
        state.withLock {
            $0.open[id] = device
            $0.failed[id] = nil
            if let identity { $0.identities[id] = identity }
        }
    }

    func identity(id: String) -> Identity? { state.withLock { $0.identities[id] } }

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
            $0.identities[id] = nil
            return $0.open.removeValue(forKey: id)
        }
    }

    func device(id: String) -> Device? { state.withLock { $0.open[id] } }

    func failureReason(id: String) -> String? { state.withLock { $0.failed[id] } }

    /// Devices that are registered but could not be opened.
    var failedCount: Int { state.withLock { $0.failed.count } }

    func removeAll() { state.withLock { $0 = State() } }
}
