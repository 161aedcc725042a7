// The owner of the pool's member devices: each one's open handle, identity (UUID, metadata area)
// and lifecycle (DeviceLifecycle), under one lock. Every state event goes through here; the
// allocator, the space accounting and the health figures read the state from here and keep no
// copy (the space accounting's withheld figures are set from here, under this lock, so they
// change in the same order as the state). Membership decisions (add, remove, what a change needs
// to fit) are in Engine+Devices.
import Foundation
import Synchronization

final class DeviceSet: Sendable {
    /// A device's UUID and its metadata area (nil: a device from before metadata areas).
    struct Identity: Sendable, Equatable {
        var uuid: UUID
        var metadataArea: Range<Int64>?
    }

    private struct Member {
        var device: Device?
        var identity: Identity?
        var lifecycle: DeviceLifecycle
        /// A forced removal is moving its copies off: nothing new lands on it meanwhile.
        var removing = false

        var takesAllocations: Bool { device != nil && lifecycle.takesAllocations && !removing }
    }

    private struct State {
        var members: [String: Member] = [:] {
            // Kept with the members, so that every allocation reads it without building it.
            didSet { allocatable = Set(members.filter { $0.value.takesAllocations }.keys) }
        }
        /// The members new extents may go to now (open, active, not being removed).
        var allocatable: Set<String> = []
    }

    private let state = Lock(State())
    private let space: SpaceAccounting

    init(space: SpaceAccounting) { self.space = space }

    /// A member opened (at start, or just added) in the operator's `chosen` state.
    func add(id: String, device: Device, identity: Identity? = nil, chosen: DeviceState) {
        state.withLock { state in
            let lifecycle = DeviceLifecycle(chosen: chosen)
            state.members[id] = Member(device: device, identity: identity ?? state.members[id]?.identity, lifecycle: lifecycle)
            space.withhold(id, moving: lifecycle.withholding)
        }
    }

    /// A registered member that could not be opened at start (missing, wrong superblock).
    func addUnavailable(id: String, chosen: DeviceState, reason: String) {
        state.withLock { state in
            let lifecycle = DeviceLifecycle(chosen: chosen, failure: reason)
            state.members[id] = Member(device: nil, identity: nil, lifecycle: lifecycle)
            space.withhold(id, moving: lifecycle.withholding)
        }
    }

    /// The operator's change, decided on the state as it is now (a failure cannot slip in
    /// between the decision and the change): the actions to carry out. Throws when `id` is not a
    /// member or the change is refused.
    func request(id: String, _ target: DeviceState) throws(EngineError) -> [DeviceLifecycle.Action] {
        try change(id) { lifecycle throws(EngineError) in
            do throws(DeviceLifecycle.Refusal) {
                return try lifecycle.operatorRequests(target)
            } catch {
                throw .deviceStateChange(id: id, from: error.from.rawValue, to: error.to.rawValue)
            }
        }
    }

    /// Puts back the operator's previous choice (its change could not be persisted).
    func revert(id: String, to previous: DeviceState) {
        _ = try? change(id) { lifecycle throws(EngineError) in lifecycle.revert(to: previous) }
    }

    /// The engine takes `id` out of service; the actions (none when it already was).
    func fail(id: String, reason: String) -> [DeviceLifecycle.Action] {
        (try? change(id) { lifecycle throws(EngineError) in lifecycle.fail(reason) }) ?? []
    }

    private func change<T>(_ id: String, _ event: (inout DeviceLifecycle) throws(EngineError) -> T) throws(EngineError) -> T {
        try state.withLock { state throws(EngineError) -> T in
            guard var member = state.members[id] else { throw .deviceNotFound(id: id) }
            let result = try event(&member.lifecycle)
            if member.lifecycle.failure != nil { member.device = nil }  // out of service: no IO goes to it
            state.members[id] = member
            space.withhold(id, moving: member.lifecycle.withholding)
            return result
        }
    }

    /// A device from before metadata areas was given one.
    func setIdentity(id: String, _ identity: Identity) {
        state.withLock { $0.members[id]?.identity = identity }
    }

    /// While a forced removal moves `id`'s copies off, nothing new is allocated on it.
    func setRemoving(id: String, _ removing: Bool) {
        state.withLock { $0.members[id]?.removing = removing }
    }

    /// Sets the space accounting's withheld figures from every member's state (after the
    /// counters were rebuilt at start).
    func publishWithheld() {
        state.withLock { state in
            for (id, member) in state.members { space.withhold(id, moving: member.lifecycle.withholding) }
        }
    }

    @discardableResult
    func remove(id: String) -> Device? {
        state.withLock { $0.members.removeValue(forKey: id)?.device }
    }

    func device(id: String) -> Device? { state.withLock { $0.members[id]?.device } }

    /// Every member that is open, by id.
    func openDevices() -> [(id: String, device: Device)] {
        state.withLock { state in state.members.compactMap { id, member in member.device.map { (id, $0) } } }.sorted { $0.id < $1.id }
    }

    func identity(id: String) -> Identity? { state.withLock { $0.members[id]?.identity } }

    func lifecycle(id: String) -> DeviceLifecycle? { state.withLock { $0.members[id]?.lifecycle } }

    /// Every member's lifecycle by id.
    var lifecycles: [String: DeviceLifecycle] { state.withLock { $0.members.mapValues(\.lifecycle) } }

    func failureReason(id: String) -> String? { state.withLock { $0.members[id]?.lifecycle.failure } }

    /// The members new extents may go to now (open, active, not being removed).
    var allocatable: Set<String> { state.withLock { $0.allocatable } }

    /// Members out of service.
    var failedCount: Int { state.withLock { $0.members.values.count { $0.lifecycle.failure != nil } } }

    func removeAll() { state.withLock { $0 = State() } }
}
