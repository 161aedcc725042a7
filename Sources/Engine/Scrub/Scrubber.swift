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
import Synchronization

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
        var schedule: PeriodicTask?
    }

    /// Changes that a waiter waits for (a scrub or the repair worker ending, work queued,
    /// stopping) are made with `withLockWaking`.
    private let state = Lock(State())

    /// Bytes per second (0: unthrottled) and seconds between periodic scrubs (0: none).
    func configure(_ engine: Engine, rate: Int64, interval: Double) {
        let needed = state.withLock { state -> Bool in
            state.rate = rate
            state.interval = interval
            return interval > 0 && state.schedule == nil && !state.stopping
        }
        guard needed else { return }
        let last = Mutex(Date())
        let schedule = PeriodicTask(name: "scrub-schedule", period: { 1 }) { [weak engine, self] in
            guard let engine else { return false }
            let interval = state.withLock { $0.interval }
            let due = last.withLock { last in
                guard interval > 0, Date().timeIntervalSince(last) >= interval else { return false }
                last = Date()
                return true
            }
            if due {
                do {
                    _ = try start(engine)
                } catch EngineError.scrubRunning {
                    // The last one is still running: this one is skipped, not queued.
                } catch {
                    engine.logger.error("a scheduled scrub did not start", metadata: ["error": "\(error)"])
                }
            }
            return true
        }
        state.withLock { $0.schedule = schedule }
    }

    var status: ScrubStatus { state.withLock { $0.status } }
    var counters: ScrubCounters {
        state.withLock {
            var counters = $0.counters
            counters.running = $0.status.state == .running
            counters.runCheckedBytes = $0.status.checkedBytes
            counters.runTotalBytes = $0.status.totalBytes
            return counters
        }
    }

    /// Starts a scrub; `.scrubRunning` while one runs.
    func start(_ engine: Engine) throws(EngineError) -> ScrubStatus {
        let total = try engine.catalogCall { try engine.catalog.copyBytes() }
        let started = try state.withLock { state throws(EngineError) -> ScrubStatus in
            guard !state.stopping, state.status.start(totalBytes: total, at: Date()) else { throw .scrubRunning }
            return state.status
        }
        engine.workers.run(as: "scrub") { [self] in run(engine) }
        return started
    }

    private func run(_ engine: Engine) {
        let outcome: ScrubStatus.Outcome
        do {
            outcome = try walk(engine)
        } catch {
            // A catalog that cannot be read is not a scrub that found nothing.
            engine.logger.error("scrub stopped: the catalog could not be read", metadata: ["error": "\(error)"])
            outcome = .failed("the catalog could not be read: \(error)")
        }
        if case .finished = outcome {
            // The catalog's copies too: every page of every copy verified, bad ones rewritten.
            let catalog = engine.mirror.scrub()
            if catalog.repaired > 0 || catalog.unreadable > 0 {
                engine.logger.warning(
                    "scrub: catalog pages bad in a copy", metadata: ["repaired": "\(catalog.repaired)", "unreadable": "\(catalog.unreadable)"])
            }
        }
        state.withLockWaking { state in
            state.status.end(outcome, at: Date())
            if case .finished = outcome { state.counters.lastFinished = Date().timeIntervalSince1970 }
        }
    }

    /// Every extent of every table, in id order: finished, or cancelled when stopping.
    private func walk(_ engine: Engine) throws(EngineError) -> ScrubStatus.Outcome {
        let began = ContinuousClock.now
        var checked: Int64 = 0
        for table in ExtentTable.allCases {
            var after: Int64 = 0
            while case let ids = try engine.catalogCall({ try engine.catalog.extentIDs(in: table, afterID: after, limit: 64) }), !ids.isEmpty {
                for id in ids {
                    after = id
                    if state.withLock({ $0.stopping }) { return .cancelled }
                    let verdict = try engine.mendExtent(table, id: id)
                    checked += verdict.checkedBytes
                    record(verdict, scrub: true)
                    throttle(checked: checked, since: began)
                }
            }
        }
        return .finished
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
        state.wait(seconds: seconds) { $0.stopping }
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
        let startWorker = state.withLockWaking { state -> Bool in
            guard !state.stopping, state.queued.insert(replica).inserted else { return false }
            state.queue.append(replica)
            defer { state.repairWorker = true }
            return !state.repairWorker
        }
        if startWorker {
            engine.workers.run(as: "read-repair") { [weak engine, self] in
                if let engine { repairLoop(engine) }
            }
        }
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
                do {
                    if let found = try engine.catalogCall({ try engine.catalog.extent(deviceID: replica.deviceID, physicalOffset: replica.offset) }) {
                        record(try engine.mendExtent(found.table, id: found.id), scrub: false)
                    }
                } catch {
                    // The bad copy stays as it is; the next read of it or the next scrub tries again.
                    engine.logger.error("read repair skipped: the catalog could not be read", metadata: ["error": "\(error)"])
                }
                state.withLockWaking { state in
                    state.queued.remove(replica)
                    state.repairing = false
                }
            case .some(.none):
                state.withLockWaking { $0.repairWorker = false }
                return
            case .none:
                state.wait { !$0.queue.isEmpty || $0.stopping }
            }
        }
    }

    // MARK: Waiting (tests, shutdown)

    /// Waits until no scrub runs and no repair is queued or in progress, or `seconds` pass.
    @discardableResult
    func waitUntilIdle(seconds: Double) -> Bool {
        state.wait(seconds: seconds) { $0.status.state != .running && $0.queue.isEmpty && !$0.repairing }
    }

    /// Stops the schedule, the running scrub and the repair worker (at shutdown; before the
    /// devices and the catalog close).
    func stop() {
        let schedule = state.withLockWaking { state in
            state.stopping = true
            return state.schedule.take()
        }
        schedule?.stop()
        state.wait(seconds: 30) { $0.status.state != .running && !$0.repairWorker }
    }
}

extension Engine {
    /// Mends the extent `id` of `table` as it is now (nothing when it is gone), holding a
    /// DeferredFree epoch so its space cannot be reused while its copies are read.
    /// A catalog error is thrown, never read as "gone".
    func mendExtent(_ table: ExtentTable, id: Int64, evacuate: String? = nil) throws(EngineError) -> ExtentVerdict {
        let epoch = deferredFree.pin()
        defer { deferredFree.unpin(epoch) }
        guard let item = try catalogCall({ try catalog.repairItem(table, extentID: id) }) else { return ExtentVerdict() }
        return mend(item, evacuate: evacuate)
    }
}
