import Testing

// The cache entry lifecycle as a value: which uses each state admits, and the transitions that
// are allowed (the others trap: they would be two writebacks at once, or a drop under one).
@testable import Engine

@Suite struct CachedObjectStateMachineTests {
    @Test func whoMayUseAnEntryInEachState() {
        let idle = ObjectLifecycle()
        #expect(idle.admits(.read) == .proceed)
        #expect(idle.admits(.change) == .proceed)
        var flushing = ObjectLifecycle()
        flushing.beginWriteback()
        #expect(flushing.isFlushing)
        #expect(flushing.admits(.read) == .proceed, "readers read while a writeback runs")
        #expect(flushing.admits(.change) == .wait, "writers, drops and another writeback wait")
        let placeholder = ObjectLifecycle(.committing)
        #expect(placeholder.isPlaceholder)
        #expect(placeholder.admits(.read) == .wait, "no one loads the version a bypassing commit replaces")
        #expect(placeholder.admits(.change) == .wait)
    }

    @Test func writebackReturnsToIdleAndAnIdleEntryRetires() {
        var lifecycle = ObjectLifecycle()
        lifecycle.beginWriteback()
        lifecycle.endWriteback()
        #expect(lifecycle.isIdle)
        lifecycle.retire()
        #expect(lifecycle.state == .retired)
    }

    @Test func aSecondWritebackTraps() async {
        await #expect(processExitsWith: .failure) {
            var lifecycle = ObjectLifecycle()
            lifecycle.beginWriteback()
            lifecycle.beginWriteback()
        }
    }

    @Test func droppingAnEntryUnderWritebackTraps() async {
        await #expect(processExitsWith: .failure) {
            var lifecycle = ObjectLifecycle()
            lifecycle.beginWriteback()
            lifecycle.retire()
        }
    }
}
