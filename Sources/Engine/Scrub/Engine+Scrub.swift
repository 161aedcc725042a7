// The scrub's front door: start one, see it, its lifetime counters, and the settings of `serve`.
import Foundation

extension Engine {
    /// Starts a scrub of every copy of every object extent; `.scrubRunning` while one runs.
    package func startScrub() throws(EngineError) -> ScrubStatus { try scrubber.start(self) }

    package func scrubStatus() -> ScrubStatus { scrubber.status }

    package func scrubCounters() -> ScrubCounters { scrubber.counters }

    /// `rate`: bytes of copies a scrub reads per second (0: unthrottled); `interval`: seconds
    /// between periodic scrubs (0: none).
    package func configureScrub(rate: Int64, interval: Double) { scrubber.configure(self, rate: rate, interval: interval) }

    /// Waits until no scrub runs and no read repair is pending (tests); false after `seconds`.
    @discardableResult
    package func waitForScrubAndRepairs(seconds: Double = 60) -> Bool { scrubber.waitUntilIdle(seconds: seconds) }
}
