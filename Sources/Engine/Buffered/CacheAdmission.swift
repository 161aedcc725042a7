// Which writes may go through the cache. A volume that keeps rows (object versions, snapshots)
// takes every write through the direct writer, durable before it is answered: the cache merges
// writes of a key and splices a PATCH's pages over extents of the version it patched, and a
// version kept beside the new one (or seen by a snapshot) must neither be merged away nor share
// extents with its successor.
//
// A volume starts keeping rows (versioning turned on, its first snapshot) with buffered writes
// possibly under way: `closeAndDrain` stops new ones from being admitted, waits for those under
// way to be applied or aborted, and the caller then writes back the volume's dirty pages before
// its change commits. A writer enters before it reads the volume's record, so a write admitted
// after the change sees it.
import Catalog
import Foundation

final class CacheAdmission: Sendable {
    private struct Gate {
        /// Buffered uploads admitted and not yet applied or aborted.
        var open = 0
        /// Changes under way that make the volume keep rows.
        var closers = 0
    }

    /// A `Lock` (touched by every buffered upload; its condition wakes a change waiting for the
    /// last admitted upload to leave).
    private let gates = Lock<[Int64: Gate]>([:])

    /// Admits a buffered upload into `volumeID`; false while a change that makes it keep rows is
    /// under way (the write goes to the direct writer).
    func enter(_ volumeID: Int64) -> Bool {
        gates.withLock { gates in
            guard gates[volumeID, default: Gate()].closers == 0 else { return false }
            gates[volumeID, default: Gate()].open += 1
            return true
        }
    }

    /// An admitted upload was applied or aborted.
    func leave(_ volumeID: Int64) {
        gates.withLockWaking { gates in
            gates[volumeID, default: Gate()].open -= 1
            precondition(gates[volumeID]!.open >= 0, "left the cache's admission more times than entered")
            Self.forgetIdle(volumeID, in: &gates)
        }
    }

    /// Admits no more buffered uploads into `volumeID` and waits (a control-plane change, on a
    /// worker, never an event loop) until those admitted are done; false when some are still
    /// under way after `seconds` (the gate is reopened). Every true must be matched by `reopen`.
    func closeAndDrain(_ volumeID: Int64, seconds: Double) -> Bool {
        gates.withLock { $0[volumeID, default: Gate()].closers += 1 }
        let drained = gates.withLock(waitingUpTo: seconds, until: { ($0[volumeID]?.open ?? 0) == 0 }) { _, drained in drained }
        if !drained { reopen(volumeID) }
        return drained
    }

    /// A change that closed the gate is done (committed or not).
    func reopen(_ volumeID: Int64) {
        gates.withLock { gates in
            gates[volumeID, default: Gate()].closers -= 1
            Self.forgetIdle(volumeID, in: &gates)
        }
    }

    private static func forgetIdle(_ volumeID: Int64, in gates: inout [Int64: Gate]) {
        if gates[volumeID]?.open == 0, gates[volumeID]?.closers == 0 { gates[volumeID] = nil }
    }
}

extension Engine {
    /// How long (seconds) a change that makes a volume keep rows waits for buffered writes under way.
    static let admissionDrainTimeout = 30.0

    /// Runs `change`, which makes `volume` keep rows, once no buffered write into it is under way
    /// and its dirty pages are written back (none is spliced over a row the change keeps);
    /// buffered writes that arrive meanwhile go to the direct writer.
    func startingToKeepRows<T>(_ volume: VolumeRecord, _ change: () throws(EngineError) -> T) throws(EngineError) -> T {
        guard !volume.keepsRows else { return try change() }
        let id = volume.id!
        guard cacheAdmission.closeAndDrain(id, seconds: Self.admissionDrainTimeout) else { throw .writesUnderWay(volume: volume.name) }
        defer { cacheAdmission.reopen(id) }
        try flushVolume(named: volume.name)
        return try change()
    }
}
