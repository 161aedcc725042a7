// The owner of scrubbing and repair. A scrub walks every extent (objects', then waiting
// multipart parts') in id order on a thread of
// its own (one at a time), mends each (ExtentRepair.swift) and throttles itself to `rate` bytes
// of copies read per second, so client IO keeps the disks; an optional interval starts one
// periodically. Read repair: a read that found a bad copy and served another queues that copy
// here, and a worker thread mends its extent. The status and the lifetime counters are kept
// under one lock; no lock is held across IO.
import Catalog
import Foundation
import Logging

final class Scrubber: Sendable {
    private struct State {
        var status = ScrubStatus()
        var counters = ScrubCounters()
        /// Copies that reads found bad, waiting for the repair worker.
        var queue: [PhysicalRange] = []
        var queued: Set<PhysicalRange> = []
        var repairing = false
        var repairWorker = false
        var stopping = false
        var rate: Int64 = 0
        var interval: Double = 0
        var scheduled = false
    }

    private let state = Lock(State())
    /// Signalled when a scrub thread or the repair worker ends, or work is queued.
    private let changed = NSCondition()

    /// Bytes per second (0: unthrottled) and seconds between periodic scrubs (0: none).
    func configure(_ engine: Engine, rate: Int64, interval: Double) {
        let schedule = state.withLock { state -> Bool in
            state.rate = rate
            state.interval = interval
            defer { if interval > 0 { state.scheduled = true } }
            return interval > 0 && !state.scheduled
        }
        guard schedule else { return }
        let thread = Thread { [weak engine, self] in
            var last = Date()
            while let engine, !self.state.withLock({ $0.stopping }) {
                self.sleep(seconds: 1)
                let due = self.state.withLock { $0.interval > 0 && Date().timeIntervalSince(last) >= $0.interval }
                guard due else { continue }
                last = Date()
                _ = try? self.start(engine)
            }
        }
        thread.name = "scrub-schedule"
        thread.start()
    }

    var status: ScrubStatus { state.withLock { $0.status } }
    var counters: ScrubCounters { state.withLock { $0.counters } }

    /// Starts a scrub; `.scrubRunning` while one runs.
    func start(_ engine: Engine) throws(EngineError) -> ScrubStatus {
        let total = try engine.catalogCall { try engine.catalog.copyBytes() }
        let started = try state.withLock { state throws(EngineError) -> ScrubStatus in
            guard !state.stopping, state.status.start(totalBytes: total, at: Date()) else { throw .scrubRunning }
            return state.status
        }
        let thread = Thread { [self] in run(engine) }
        thread.name = "scrub"
        thread.start()
        return started
    }

    private func run(_ engine: Engine) {
        let began = ContinuousClock.now
        var checked: Int64 = 0
        var cancelled = false
        walk: for table in ExtentTable.allCases {
            var after: Int64 = 0
            while let ids = try? engine.catalogCall({ try engine.catalog.extentIDs(in: table, afterID: after, limit: 64) }), !ids.isEmpty {
                for id in ids {
                    after = id
                    if state.withLock({ $0.stopping }) {
                        cancelled = true
                        break walk
                    }
                    let verdict = engine.mendExtent(table, id: id)
                    checked += verdict.checkedBytes
                    record(verdict, scrub: true)
                    throttle(checked: checked, since: began)
                }
            }
        }
        if !cancelled {
            // The catalog's copies too: every page of every copy verified, bad ones rewritten.
            let catalog = engine.mirror.scrub()
            if catalog.repaired > 0 || catalog.unreadable > 0 {
                engine.logger.warning(
                    "scrub: catalog pages bad in a copy", metadata: ["repaired": "\(catalog.repaired)", "unreadable": "\(catalog.unreadable)"])
            }
        }
        state.withLock { state in
            state.status.end(cancelled: cancelled, at: Date())
            if !cancelled { state.counters.lastFinished = Date().timeIntervalSince1970 }
        }
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    /// Sleeps as long as the copies read so far are ahead of the rate.
    private func throttle(checked: Int64, since began: ContinuousClock.Instant) {
        let rate = state.withLock { $0.rate }
        guard rate > 0 else { return }
        let due = Double(checked) / Double(rate)
        let elapsed = Double((ContinuousClock.now - began).components.seconds) + Double((ContinuousClock.now - began).components.attoseconds) / 1e18
        if due > elapsed { sleep(seconds: due - elapsed) }
    }

    /// Sleeps up to `seconds`, waking early when stopping.
    private func sleep(seconds: Double) {
        let until = Date().addingTimeInterval(seconds)
        changed.lock()
        while Date() < until, !state.withLock({ $0.stopping }) { _ = changed.wait(until: min(until, Date().addingTimeInterval(0.05))) }
        changed.unlock()
    }

    private func record(_ verdict: ExtentVerdict, scrub: Bool) {
        state.withLock { state in
            let unrepairable = Int64(verdict.unrepairable.count)
            if scrub {
                state.status.checkedBytes += verdict.checkedBytes
                state.status.errors += Int64(verdict.badCopies)
                state.status.repaired += Int64(verdict.repaired)
                state.status.unrepairable += verdict.unrepairable
                state.counters.checkedBytes += verdict.checkedBytes
            }
            state.counters.errors += Int64(verdict.badCopies)
            state.counters.repaired += Int64(verdict.repaired)
            state.counters.unrepairable += unrepairable
        }
    }

    // MARK: Read repair

    /// Queues the repair of the copy at `replica`, which a read found bad.
    func scheduleRepair(_ engine: Engine, _ replica: PhysicalRange) {
        let startWorker = state.withLock { state -> Bool in
            guard !state.stopping, state.queued.insert(replica).inserted else { return false }
            state.queue.append(replica)
            defer { state.repairWorker = true }
            return !state.repairWorker
        }
        if startWorker {
            let thread = Thread { [weak engine, self] in
                if let engine { repairLoop(engine) }
            }
            thread.name = "read-repair"
            thread.start()
        }
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    private func repairLoop(_ engine: Engine) {
        while true {
            let next = state.withLock { state -> PhysicalRange?? in
                if state.stopping { return .some(nil) }
                guard !state.queue.isEmpty else { return nil }
                state.repairing = true
                return state.queue.removeFirst()
            }
            switch next {
            case .some(.some(let replica)):
                if let found = try? engine.catalogCall({ try engine.catalog.extent(deviceID: replica.deviceID, physicalOffset: replica.offset) }) {
                    record(engine.mendExtent(found.table, id: found.id), scrub: false)
                }
                state.withLock { state in
                    state.queued.remove(replica)
                    state.repairing = false
                }
                changed.lock()
                changed.broadcast()
                changed.unlock()
            case .some(.none):
                state.withLock { $0.repairWorker = false }
                changed.lock()
                changed.broadcast()
                changed.unlock()
                return
            case .none:
                changed.lock()
                _ = changed.wait(until: Date().addingTimeInterval(0.2))
                changed.unlock()
            }
        }
    }

    // MARK: Waiting (tests, shutdown)

    /// Waits until no scrub runs and no repair is queued or in progress, or `seconds` pass.
    @discardableResult
    func waitUntilIdle(seconds: Double) -> Bool {
        let until = Date().addingTimeInterval(seconds)
        changed.lock()
        defer { changed.unlock() }
        while true {
            let idle = state.withLock { $0.status.state != .running && $0.queue.isEmpty && !$0.repairing }
            if idle { return true }
            if Date() >= until { return false }
            _ = changed.wait(until: min(until, Date().addingTimeInterval(0.05)))
        }
    }

    /// Stops the schedule, the running scrub and the repair worker (at shutdown; before the
    /// devices and the catalog close).
    func stop() {
        state.withLock { $0.stopping = true }
        changed.lock()
        changed.broadcast()
        changed.unlock()
        let until = Date().addingTimeInterval(30)
        while Date() < until, state.withLock({ $0.status.state == .running || $0.repairWorker }) { usleep(5000) }
    }
}

extension Engine {
    /// Mends the extent `id` of `table` as it is now (nothing when it is gone), holding a
    /// DeferredFree epoch so its space cannot be reused while its copies are read.
    func mendExtent(_ table: ExtentTable, id: Int64, evacuate: String? = nil) -> ExtentVerdict {
        let epoch = deferredFree.pin()
        defer { deferredFree.unpin(epoch) }
        guard let item = try? catalogCall({ try catalog.repairItem(table, extentID: id) }) else { return ExtentVerdict() }
        return mend(item, evacuate: evacuate)
    }
}
