// Group commit: sync writes that are ready to commit at the same time share one flush per device
// touched and one catalog transaction, then each is answered. The first to arrive leads: it takes
// everything queued, flushes the union of their devices, commits their catalog changes in one
// transaction (each in its own savepoint), and wakes them; whoever queued meanwhile is led by the
// first of them. A lone writer leads at once and waits for nobody. A device whose flush fails
// fails the changes that wrote to it, and a change whose catalog step fails fails alone.
import Catalog
import Foundation
import Synchronization

final class GroupCommit: Sendable {
    /// One caller's change, waiting in the queue. @unchecked: `change` and `outcome` are set by the
    /// caller before it is queued and read by it after `done`; the leader touches them in between.
    final class Entry: @unchecked Sendable {
        let devices: Set<String>
        /// Cleared by the caller once answered: the closure must not outlive its call.
        var change: ((CatalogTransaction) throws -> Void)?
        var outcome: (any Error)?
        /// Set by the leader that hands over the lead, instead of `finished`.
        var leads = false
        var finished = false
        /// False for the changes of a caller of `commitEach` after its first: it waits on the first only.
        var waits = true
        let wake = DispatchSemaphore(value: 0)

        init(devices: Set<String>, change: @escaping (CatalogTransaction) throws -> Void) {
            self.devices = devices
            self.change = change
        }
    }

    /// The results of one caller's changes, written by whoever leads their group. @unchecked: each
    /// slot is written by the leader before the caller is woken, and read by the caller after.
    private final class Results<T>: @unchecked Sendable {
        var values: [T?]
        init(count: Int) { values = Array(repeating: nil, count: count) }
    }

    private struct State {
        var queue: [Entry] = []
        var leading = false
    }

    private let state = Mutex(State())
    /// Groups committed, changes committed in them, device flushes issued (tests read them).
    let groups = Atomic<Int>(0)
    let changes = Atomic<Int>(0)
    let flushes = Atomic<Int>(0)

    /// Makes `devices` durable and runs `change` in a catalog transaction, together with whatever
    /// other changes are ready; returns once both are durable. Throws the device's or the
    /// change's error.
    func commit<T>(
        _ engine: Engine, devices: Set<String>, _ change: (CatalogTransaction) throws -> T
    ) throws -> T {
        EventLoopGuard.assertMayWait("a commit")
        var result: T?
        try withoutActuallyEscaping(change) { change in
            let entry = Entry(devices: devices) { transaction in result = try change(transaction) }
            run(engine, entry)
            entry.change = nil
            if let error = entry.outcome { throw error }
        }
        return result!
    }

    /// Commits several changes of one caller as `commit` does one: queued together, so they share
    /// one group (one flush per device, one transaction), and the caller waits once rather than a
    /// thread waiting per change. Returns each change's result or error; one change's failure
    /// fails only that change.
    func commitEach<T>(
        _ engine: Engine, _ changes: [(devices: Set<String>, change: (CatalogTransaction) throws -> T)]
    ) -> [Result<T, any Error>] {
        guard !changes.isEmpty else { return [] }
        EventLoopGuard.assertMayWait("a commit")
        let results = Results<T>(count: changes.count)
        let entries = changes.enumerated().map { i, item in
            Entry(devices: item.devices) { transaction in results.values[i] = try item.change(transaction) }
        }
        for entry in entries.dropFirst() { entry.waits = false }
        run(engine, entries)
        return zip(entries, results.values).map { entry, value in
            entry.change = nil
            if let error = entry.outcome { return .failure(error) }
            return .success(value!)
        }
    }

    private func run(_ engine: Engine, _ entry: Entry) { run(engine, [entry]) }

    /// Queues `entries` (one caller's) at once and leads their group or waits for it: the leader
    /// takes the whole queue, so they are always committed together.
    private func run(_ engine: Engine, _ entries: [Entry]) {
        let entry = entries[0]
        let lead = state.withLock { state in
            state.queue.append(contentsOf: entries)
            if state.leading { return false }
            state.leading = true
            return true
        }
        if !lead {
            entry.wake.wait()
            if entry.finished { return }
            precondition(entry.leads, "woken without an outcome or the lead")
        }
        let batch = state.withLock { state in
            let batch = state.queue
            state.queue = []
            return batch
        }
        commitBatch(engine, batch)
        // Hand the lead to the first that queued meanwhile, then answer this batch.
        let next = state.withLock { state -> Entry? in
            guard let first = state.queue.first else {
                state.leading = false
                return nil
            }
            return first
        }
        if let next {
            next.leads = true
            next.wake.signal()
        }
        for waiting in batch where waiting !== entry {
            waiting.finished = true
            if waiting.waits { waiting.wake.signal() }
        }
    }

    private func commitBatch(_ engine: Engine, _ batch: [Entry]) {
        let devices = batch.reduce(into: Set<String>()) { $0.formUnion($1.devices) }
        let late = engine.planted.contains(.commitBeforeDataSync)
        let failed = late ? [:] : engine.makeDurableEach(devices)
        defer { if late { _ = engine.makeDurableEach(devices) } }
        flushes.add(devices.count, ordering: .relaxed)
        var ready: [Entry] = []
        for entry in batch {
            if let device = entry.devices.sorted().first(where: { failed[$0] != nil }) {
                entry.outcome = failed[device]
            } else {
                ready.append(entry)
            }
        }
        guard !ready.isEmpty else { return }
        do {
            let outcomes = try engine.catalog.commitGroup(ready.map { $0.change! })
            for (entry, outcome) in zip(ready, outcomes) { entry.outcome = outcome }
            groups.add(1, ordering: .relaxed)
            changes.add(outcomes.filter { $0 == nil }.count, ordering: .relaxed)
        } catch {
            for entry in ready { entry.outcome = error }
        }
    }
}
