import Engine
import Testing

@Suite struct DeviceStateTests {
    @Test(arguments: [
        (DeviceState.active, DeviceState.readonly), (.readonly, .active), (.draining, .active), (.draining, .readonly),
        (.active, .draining), (.readonly, .draining),
    ])
    func allowedChangesPersist(from: DeviceState, to: DeviceState) {
        var lifecycle = DeviceLifecycle(state: from)
        #expect(lifecycle.operatorRequests(to) == .persist(to))
        #expect(lifecycle.state == to)
    }

    @Test(arguments: DeviceState.allCases)
    func requestingTheCurrentStateDoesNothing(state: DeviceState) {
        var lifecycle = DeviceLifecycle(state: state)
        #expect(lifecycle.operatorRequests(state) == .nothing)
        #expect(lifecycle.state == state)
    }

    @Test(arguments: [
        (DeviceState.failed, DeviceState.active), (.failed, .readonly), (.failed, .draining), (.readonly, .failed), (.active, .failed),
    ])
    func otherChangesAreRejected(from: DeviceState, to: DeviceState) {
        var lifecycle = DeviceLifecycle(state: from)
        #expect(lifecycle.operatorRequests(to) == .reject(from: from, to: to))
        #expect(lifecycle.state == from)
    }

    @Test func failingIsRuntimeOnly() {
        var lifecycle = DeviceLifecycle(state: .readonly)
        #expect(lifecycle.fail() == .nothing)
        #expect(lifecycle.state == .failed)
        #expect(lifecycle.fail() == .nothing)
        #expect(lifecycle.operatorRequests(.active) == .reject(from: .failed, to: .active))
    }
}
