// Moving every copy off one device: a drain (the operator set it `draining`) or a rebuild (it
// failed: its copies are re-created from the other copies). One job per device, on the engine's
// workers, walks the
// extents with a copy there and mends each with that device evacuated (ExtentRepair.swift: the
// same copy-on-write rewrite and conditional catalog move a repair uses, through the same IO path
// as writeback), while clients keep reading and writing. A pass that moves nothing ends the job
// (no space, or data with no other intact copy); adding a device or restarting starts it again.
// The owner of the jobs' progress; no lock is held across IO.
import Catalog
import Foundation
import Logging

final class Evacuator: Sendable {
    enum Reason: String, Sendable { case drain, rebuild }

    private struct Job {
        var reason: Reason
        var moved: Int64 = 0
        var running = false
        var cancelled = false
        /// Why the last pass left copies behind.
        var stalled: String?
    }

    private struct State {
        var jobs: [String: Job] = [:]
        var stopping = false
    }

    private let state = Lock(State())

    /// Bytes moved off `device` since its job started (this process).
    func moved(_ device: String) -> Int64 { state.withLock { $0.jobs[device]?.moved ?? 0 } }

    func stalled(_ device: String) -> String? { state.withLock { $0.jobs[device]?.stalled } }

    var running: Bool { state.withLock { $0.jobs.values.contains { $0.running } } }

    /// Starts (or restarts) moving copies off `device`; nothing if its job is running.
    func start(_ engine: Engine, device: String, reason: Reason) {
        let start = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            var job = state.jobs[device] ?? Job(reason: reason)
            if job.running { return false }
            if job.reason != reason { job = Job(reason: reason) }
            job.running = true
            job.cancelled = false
            job.stalled = nil
            state.jobs[device] = job
            return true
        }
        guard start else { return }
        engine.workers.run(as: "evacuate") { [weak engine, self] in
            if let engine { run(engine, device: device) }
            state.withLockWaking { $0.jobs[device]?.running = false }
        }
    }

    /// Stops the job on `device` (a drain cancelled); what it moved stays moved.
    func cancel(_ device: String) {
        state.withLock { $0.jobs[device]?.cancelled = true }
        state.wait { !($0.jobs[device]?.running ?? false) }
        state.withLock { _ = $0.jobs.removeValue(forKey: device) }
    }

    /// Stops every job (shutdown, before the devices and the catalog close).
    func stop() {
        state.withLock { state in
            state.stopping = true
            for id in state.jobs.keys { state.jobs[id]?.cancelled = true }
        }
        state.wait(seconds: 30) { !$0.jobs.values.contains { $0.running } }
    }

    /// Moves what it can off `device` now, on the calling thread (a forced removal); returns
    /// the copies it could not move, with why.
    func evacuateNow(_ engine: Engine, device: String) -> [String] {
        do {
            return try pass(engine, device: device, stopping: { false })?.problems ?? []
        } catch {
            return ["the catalog could not be read: \(error)"]
        }
    }

    /// One walk over every extent with a copy on `device`, mending each with the device
    /// evacuated: copies moved and what could not be; nil when `stopping` said stop.
    /// A catalog error is thrown: it is never read as "no copies left".
    private func pass(_ engine: Engine, device: String, stopping: () -> Bool) throws(EngineError) -> (moved: Int, problems: [String])? {
        var moved = 0
        var problems: [String] = []
        for table in ExtentTable.allCases {
            var after: Int64 = 0
            while case let ids = try engine.catalogCall({ try engine.catalog.extentIDs(in: table, onDevice: device, afterID: after, limit: 64) }),
                !ids.isEmpty
            {
                for id in ids {
                    if stopping() { return nil }
                    after = id
                    let verdict = try engine.mendExtent(table, id: id, evacuate: device)
                    moved += verdict.moved
                    problems += verdict.failures + Self.describe(verdict.unrepairable)
                    state.withLock { $0.jobs[device]?.moved += verdict.movedBytes }
                }
            }
        }
        return (moved, problems)
    }

    private static func describe(_ lost: [UnrepairableRange]) -> [String] {
        lost.map { "\($0.volume)/\($0.key) bytes \($0.offset)-\($0.offset + $0.length - 1) have no intact copy elsewhere" }
    }

    private static func holdsCopies(_ engine: Engine, _ device: String) throws(EngineError) -> Bool {
        for table in ExtentTable.allCases
        where try !engine.catalogCall({ try engine.catalog.extentIDs(in: table, onDevice: device, afterID: 0, limit: 1) }).isEmpty {
            return true
        }
        return false
    }

    private func run(_ engine: Engine, device: String) {
        engine.logger.info(
            "moving copies off a device", metadata: ["device": "\(device)", "reason": "\(state.withLock { $0.jobs[device]?.reason.rawValue ?? "" })"])
        do {
            try passes(engine, device: device)
        } catch {
            // The job stops where it is, as a pass that moved nothing does: retried when a device
            // is added or at restart. The device still holds what was not moved.
            let why = "the catalog could not be read: \(error)"
            state.withLock { $0.jobs[device]?.stalled = why }
            engine.logger.error("moving copies off a device stopped", metadata: ["device": "\(device)", "problem": "\(why)"])
        }
    }

    private func passes(_ engine: Engine, device: String) throws(EngineError) {
        while true {
            guard
                let (movedThisPass, problems) = try pass(engine, device: device, stopping: { state.withLock { $0.jobs[device]?.cancelled ?? true } })
            else { return }
            if try !Self.holdsCopies(engine, device) {
                engine.logger.info("device holds no copies now", metadata: ["device": "\(device)", "moved": "\(moved(device))"])
                return
            }
            if movedThisPass == 0 {
                let why = problems.first ?? "copies remain"
                state.withLock { $0.jobs[device]?.stalled = why }
                engine.logger.warning(
                    "copies could not be moved off a device; retried when a device is added or at restart",
                    metadata: ["device": "\(device)", "problem": "\(why)"])
                return
            }
        }
    }
}
