// Device lifecycle states and the pure state machine for operator-requested changes.
package enum DeviceState: String, Sendable, Equatable, CaseIterable {
    /// New allocations go here.
    case active
    /// Readable; no new allocations.
    case readonly
    /// Readable; no new allocations; every copy is being moved off (the operator asks for it).
    case draining
    /// Unusable: IO errors past a threshold, or missing/mismatched at start (set by the engine).
    case failed
}

/// A value-type state machine: events return an action and do no IO.
package struct DeviceLifecycle: Sendable, Equatable {
    package private(set) var state: DeviceState

    package init(state: DeviceState) { self.state = state }

    package enum Action: Sendable, Equatable {
        case persist(DeviceState)
        case nothing
        case reject(from: DeviceState, to: DeviceState)
    }

    /// An operator asks for `target` (`active`, `readonly` or `draining`; `active` or `readonly`
    /// cancels a drain).
    package mutating func operatorRequests(_ target: DeviceState) -> Action {
        switch (state, target) {
        case (let from, let to) where from == to: return .nothing
        case (.active, .readonly), (.readonly, .active), (.draining, .active), (.draining, .readonly), (.active, .draining), (.readonly, .draining):
            state = target
            return .persist(target)
        default:
            return .reject(from: state, to: target)
        }
    }

    /// The engine found the device unusable (missing, wrong superblock, IO errors).
    package mutating func fail() -> Action {
        guard state != .failed else { return .nothing }
        state = .failed
        return .nothing  // Runtime only: the catalog keeps the operator's state for when it returns.
    }
}
