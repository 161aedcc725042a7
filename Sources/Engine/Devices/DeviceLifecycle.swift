// A device's state as one value, and the pure state machine of its changes: what the operator
// chose (persisted in the catalog) and whether the engine took it out of service (runtime only,
// so the operator's choice is there again when the device comes back). Events return the actions
// for the owner (DeviceSet, then Engine+Devices) to carry out; nothing here does IO, takes a lock
// or reads a clock.
import Catalog

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

extension DeviceRecord.State {
    /// The catalog column of an operator's choice.
    init(_ state: DeviceState) {
        switch state {
        case .active: self = .active
        case .readonly: self = .readonly
        case .draining: self = .draining
        case .failed: preconditionFailure("failed is the engine's finding, never persisted")
        }
    }
}

package struct DeviceLifecycle: Sendable, Equatable {
    /// What the operator chose: active, readonly or draining.
    package private(set) var chosen: DeviceState
    /// Why the engine took the device out of service; nil while it is in service.
    package private(set) var failure: String?

    package init(chosen: DeviceState, failure: String? = nil) {
        precondition(chosen != .failed, "failed is the engine's finding, not a choice")
        self.chosen = chosen
        self.failure = failure
    }

    /// The state everyone reads (GET /v1/devices, the allocator, the space accounting).
    package var state: DeviceState { failure == nil ? chosen : .failed }

    /// New extents may be placed on it.
    package var takesAllocations: Bool { state == .active }

    /// How its space counts: nil, all of it serves new writes; false, its free space does not
    /// (readonly keeps its copies); true, none does and its copies must fit elsewhere.
    package var withholding: Bool? {
        switch state {
        case .active: nil
        case .readonly: false
        case .draining, .failed: true
        }
    }

    package enum Action: Sendable, Equatable {
        /// Move every copy off the device: a drain, or a rebuild of a failed device's copies.
        case evacuate(rebuild: Bool)
        case cancelEvacuation
        /// The devices that may hold a copy of the catalog changed (only active ones do).
        case placeMetadataCopies
    }

    package struct Refusal: Error, Equatable {
        package var from: DeviceState
        package var to: DeviceState
    }

    /// The operator asks for `target` (active, readonly or draining; active or readonly cancels
    /// a drain). No actions: it is the state already. A failed device refuses every change.
    package mutating func operatorRequests(_ target: DeviceState) throws(Refusal) -> [Action] {
        guard failure == nil, target != .failed else { throw Refusal(from: state, to: target) }
        guard target != chosen else { return [] }
        let from = chosen
        chosen = target
        if target == .draining { return [.evacuate(rebuild: false), .placeMetadataCopies] }
        return (from == .draining ? [.cancelEvacuation] : []) + [.placeMetadataCopies]
    }

    /// Undoes an operator change whose persisting failed.
    package mutating func revert(to previous: DeviceState) {
        precondition(previous != .failed)
        chosen = previous
    }

    /// The engine found the device unusable (IO errors past the threshold): its copies are
    /// re-created from the others, and a copy of the catalog on it is placed elsewhere.
    package mutating func fail(_ reason: String) -> [Action] {
        guard failure == nil else { return [] }
        failure = reason
        return [.evacuate(rebuild: true), .placeMetadataCopies]
    }
}
