// What a scrub reports (GET /v1/pool/scrub), as a value: the state machine idle → running →
// finished (or cancelled by shutdown, or failed when the catalog could not be read), and one
// running at a time. The lifetime counters behind
// the metrics are in ScrubCounters.
package import Foundation

/// A byte range of an object that no copy holds intact.
package struct UnrepairableRange: Sendable, Equatable {
    package var volume: String
    package var key: String
    /// Logical bytes `[offset, offset + length)` of the object.
    package var offset: Int64
    package var length: Int64
}

package struct ScrubStatus: Sendable, Equatable {
    package enum State: String, Sendable {
        case idle, running, finished, cancelled, failed
    }

    package var state: State = .idle
    package var startedAt: Date?
    package var finishedAt: Date?
    /// Bytes of extent copies read and verified so far, and of all copies when it started.
    package var checkedBytes: Int64 = 0
    package var totalBytes: Int64 = 0
    /// Copies found with a bad block, an IO error, or missing (their device failed).
    package var errors: Int64 = 0
    /// Copies rewritten from good ones.
    package var repaired: Int64 = 0
    package var unrepairable: [UnrepairableRange] = []
    /// Why a `failed` scrub stopped (the catalog error); nil otherwise.
    package var problem: String?

    /// The transition of a start: refused while one runs.
    mutating func start(totalBytes: Int64, at now: Date) -> Bool {
        guard state != .running else { return false }
        self = ScrubStatus(state: .running, startedAt: now, totalBytes: totalBytes)
        return true
    }

    /// How a scrub that ran ended.
    enum Outcome {
        case finished, cancelled
        case failed(String)
    }

    mutating func end(_ outcome: Outcome, at now: Date) {
        precondition(state == .running, "a scrub ended that was not running")
        switch outcome {
        case .finished: state = .finished
        case .cancelled: state = .cancelled
        case .failed(let why):
            state = .failed
            problem = why
        }
        finishedAt = now
    }
}

/// Lifetime totals over every scrub and read repair (Prometheus counters).
package struct ScrubCounters: Sendable, Equatable {
    package var checkedBytes: Int64 = 0
    package var errors: Int64 = 0
    package var repaired: Int64 = 0
    package var unrepairable: Int64 = 0
    /// When the last scrub finished (seconds since 1970; 0: never).
    package var lastFinished: Double = 0
    /// The scrub under way, or the last one: whether it runs, and its bytes checked of its total.
    package var running = false
    package var runCheckedBytes: Int64 = 0
    package var runTotalBytes: Int64 = 0
}
