// The one shape of periodic background work (the flusher, the scrub schedule, the multipart upload
// expiry): a named thread that sleeps `period()` seconds on a condition, runs `tick`, and again,
// until `stop` — which wakes it at once and waits for a tick under way, so nothing runs after the
// catalog closes. A tick returning false ends the task (its engine is gone).
package final class PeriodicTask: Sendable {
    private struct State {
        var stopping = false
        var ended = false
    }

    private let state = Lock(State())

    /// Starts the thread; the first tick comes after the first period.
    package init(name: String, period: @escaping @Sendable () -> Double, tick: @escaping @Sendable () -> Bool) {
        BackgroundThread.start(name) { [state] in
            while !state.wait(seconds: period(), until: { $0.stopping }), tick() {}
            state.withLockWaking { $0.ended = true }
        }
    }

    /// No tick starts after this; waits up to `seconds` (nil: as long as it takes) for the one
    /// under way (true: it ended).
    @discardableResult
    package func stop(seconds: Double? = 30) -> Bool {
        state.withLockWaking { $0.stopping = true }
        return state.wait(seconds: seconds) { $0.ended }
    }
}
