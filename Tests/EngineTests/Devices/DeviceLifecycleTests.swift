import Testing

// The device state machine as a value: the operator's allowed changes and what each calls for,
// refusals, failure (runtime only: the operator's choice stays underneath), and the figures the
// allocator and the space accounting read from it.
@testable import Engine

@Suite struct DeviceLifecycleTests {
    static let choices: [DeviceState] = [.active, .readonly, .draining]

    @Test(arguments: [
        (DeviceState.active, DeviceState.readonly), (.readonly, .active), (.draining, .active), (.draining, .readonly),
        (.active, .draining), (.readonly, .draining),
    ])
    func allowedChangesTakeEffect(from: DeviceState, to: DeviceState) throws {
        var lifecycle = DeviceLifecycle(chosen: from)
        let actions = try lifecycle.operatorRequests(to)
        #expect(lifecycle.state == to)
        #expect(actions.contains(.placeMetadataCopies), "only active devices hold the catalog: the set may change")
        #expect(actions.contains(.evacuate(rebuild: false)) == (to == .draining))
        #expect(actions.contains(.cancelEvacuation) == (from == .draining))
    }

    @Test(arguments: DeviceLifecycleTests.choices)
    func requestingTheCurrentStateDoesNothing(state: DeviceState) throws {
        var lifecycle = DeviceLifecycle(chosen: state)
        #expect(try lifecycle.operatorRequests(state).isEmpty)
        #expect(lifecycle.state == state)
    }

    @Test(arguments: DeviceLifecycleTests.choices)
    func failedIsNotAChoice(from: DeviceState) {
        var lifecycle = DeviceLifecycle(chosen: from)
        #expect(throws: DeviceLifecycle.Refusal(from: from, to: .failed)) { try lifecycle.operatorRequests(.failed) }
        #expect(lifecycle.state == from)
    }

    @Test(arguments: DeviceLifecycleTests.choices)
    func aFailedDeviceRefusesEveryChangeAndKeepsTheOperatorsChoice(chosen: DeviceState) {
        var lifecycle = DeviceLifecycle(chosen: chosen)
        #expect(lifecycle.fail("16 IO errors") == [.evacuate(rebuild: true), .placeMetadataCopies])
        #expect(lifecycle.state == .failed)
        #expect(lifecycle.fail("17 IO errors").isEmpty, "failing twice does nothing more")
        #expect(lifecycle.failure == "16 IO errors")
        for target in Self.choices {
            #expect(throws: DeviceLifecycle.Refusal(from: .failed, to: target)) { try lifecycle.operatorRequests(target) }
        }
        #expect(lifecycle.chosen == chosen, "the catalog keeps the operator's state for when the device returns")
    }

    @Test func whatTheAllocatorAndTheSpaceAccountingRead() throws {
        var lifecycle = DeviceLifecycle(chosen: .active)
        #expect(lifecycle.takesAllocations && lifecycle.withholding == nil)
        _ = try lifecycle.operatorRequests(.readonly)
        #expect(!lifecycle.takesAllocations && lifecycle.withholding == false)
        _ = try lifecycle.operatorRequests(.draining)
        #expect(!lifecycle.takesAllocations && lifecycle.withholding == true)
        lifecycle.revert(to: .active)
        #expect(lifecycle.takesAllocations)
        _ = lifecycle.fail("missing")
        #expect(!lifecycle.takesAllocations && lifecycle.withholding == true)
    }
}
