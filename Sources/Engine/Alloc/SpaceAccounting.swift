// Admission control for writes: quota (logical bytes per volume) and pool space (physical bytes,
// all replicas) are reserved before data is written, atomically with the catalog's figures, so
// concurrent uploads can never together overfill a volume or the pool. Commit and reservation
// share one lock so space moves from "in flight" to "allocated" in one step.
import Catalog
import Synchronization

package final class SpaceAccounting: Sendable {
    private struct State {
        /// Physical bytes reserved by in-flight writes to thin volumes.
        var inflightPhysical: Int64 = 0
        /// Logical bytes reserved by in-flight writes, per volume id.
        var inflightLogical: [Int64: Int64] = [:]
    }

    private let state = Mutex(State())

    /// What one upload holds; returned by `release`.
    package struct Reservation: Sendable, Equatable {
        var volumeID: Int64
        var thick: Bool
        var logical: Int64 = 0
        var physical: Int64 = 0
        /// Size of the version being replaced, credited against the quota.
        var replacing: Int64
    }

    /// What admission may hand out of `free`: a hidden 1/65 stays back (bcachefs's slack) for
    /// what writeback allocates beyond the reservations — copy-on-write of data already on disk,
    /// partial last blocks — so a write that was accepted never meets a full pool at writeback.
    static func reservable(_ free: Int64) -> Int64 { free - free / 65 }

    static func physicalBytes(logical: Int64, replicas: Int64) -> Int64 {
        (logical + Allocator.unit - 1) / Allocator.unit * Allocator.unit * replicas
    }

    /// Adds `logical` bytes (and their physical footprint) to `reservation`, or throws noSpace.
    /// `usage` reads the catalog's current figures; it runs under the lock.
    func reserve(
        _ reservation: inout Reservation, logical: Int64, replicas: Int64, capacity: Int64,
        usage: () throws(EngineError) -> (volumeUsed: Int64, poolFree: Int64)
    ) throws(EngineError) {
        let physical = Self.physicalBytes(logical: reservation.logical + logical, replicas: replicas) - reservation.physical
        try state.withLock { state throws(EngineError) in
            let figures = try usage()
            let inflight = state.inflightLogical[reservation.volumeID, default: 0]
            let quotaLeft = capacity - (figures.volumeUsed - reservation.replacing) - inflight
            if logical > quotaLeft {
                throw .noSpace(.volumeQuota, needed: logical, available: max(0, quotaLeft))
            }
            if !reservation.thick {
                let poolLeft = Self.reservable(figures.poolFree) - state.inflightPhysical
                if physical > poolLeft { throw .noSpace(.pool, needed: physical, available: max(0, poolLeft)) }
                state.inflightPhysical += physical
            }
            state.inflightLogical[reservation.volumeID, default: 0] += logical
        }
        reservation.logical += logical
        reservation.physical += physical
    }

    /// Runs `commit` (the catalog change) and releases the reservation in one step.
    func commit<T>(_ reservation: Reservation, _ commit: () throws(EngineError) -> T) throws(EngineError) -> T {
        try state.withLock { state throws(EngineError) in
            let result = try commit()
            Self.remove(reservation, from: &state)
            return result
        }
    }

    func release(_ reservation: Reservation) {
        state.withLock { Self.remove(reservation, from: &$0) }
    }

    private static func remove(_ reservation: Reservation, from state: inout State) {
        if !reservation.thick { state.inflightPhysical -= reservation.physical }
        state.inflightLogical[reservation.volumeID, default: 0] -= reservation.logical
        if state.inflightLogical[reservation.volumeID] == 0 { state.inflightLogical[reservation.volumeID] = nil }
    }

    /// Reserves raw amounts for the page cache (buffered writes), or throws noSpace.
    func reserveBuffered(
        volumeID: Int64, thick: Bool, logical: Int64, physical: Int64, capacity: Int64, replacing: Int64,
        usage: () throws(EngineError) -> (volumeUsed: Int64, poolFree: Int64)
    ) throws(EngineError) {
        var reservation = Reservation(volumeID: volumeID, thick: thick, replacing: replacing)
        try state.withLock { state throws(EngineError) in
            let figures = try usage()
            let inflight = state.inflightLogical[volumeID, default: 0]
            let quotaLeft = capacity - (figures.volumeUsed - replacing) - inflight
            if logical > 0, logical > quotaLeft {
                throw .noSpace(.volumeQuota, needed: logical, available: max(0, quotaLeft))
            }
            if !thick, physical > 0 {
                let poolLeft = Self.reservable(figures.poolFree) - state.inflightPhysical
                if physical > poolLeft { throw .noSpace(.pool, needed: physical, available: max(0, poolLeft)) }
                state.inflightPhysical += physical
            }
            state.inflightLogical[volumeID, default: 0] += logical
        }
        reservation.logical = logical
        reservation.physical = physical
    }

    /// Gives back raw amounts reserved with `reserveBuffered`.
    func releaseBuffered(volumeID: Int64, thick: Bool, logical: Int64, physical: Int64) {
        release(Reservation(volumeID: volumeID, thick: thick, logical: logical, physical: physical, replacing: 0))
    }

    /// Runs `commit` and releases raw amounts in one step.
    func commitBuffered<T>(
        volumeID: Int64, thick: Bool, logical: Int64, physical: Int64, _ commit: () throws(EngineError) -> T
    ) throws(EngineError) -> T {
        try self.commit(Reservation(volumeID: volumeID, thick: thick, logical: logical, physical: physical, replacing: 0), commit)
    }

    /// In-flight physical bytes (thin volumes), for the pool's figures.
    var inflightPhysical: Int64 { state.withLock { $0.inflightPhysical } }
}
