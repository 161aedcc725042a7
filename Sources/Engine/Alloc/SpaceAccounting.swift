// Admission control for writes, and the figures the API shows, from counters in memory (bcachefs's
// disk accounting): quota (logical bytes per volume) and pool space (physical bytes, all replicas)
// are reserved before data is written, so concurrent uploads can never together overfill a volume
// or the pool. The counters are rebuilt from the catalog once at open (`load`) and changed in the
// same step as each commit (`apply`): a reservation is arithmetic, never SQL.
//
// Pool space: a reservation takes from `budget` with one compare-and-swap (the fast path, no lock;
// bcachefs's per-CPU `sectors_available` cache). When the budget cannot cover it, `takePoolSlow`
// recomputes the budget exactly under the pool lock: what admission may hand out of the free space
// minus what in-flight writes hold. The budget only ever under-states what is free (releases do
// not refill it; a recount does), so the fast path can never admit more than the slow one would.
// Quota: one lock per stripe of volumes, never pool-wide.
package import Catalog
import Synchronization

package final class SpaceAccounting: Sendable {
    /// One volume's counters: what the catalog holds for it, and what in-flight writes reserved.
    struct VolumeCounters: Sendable {
        var capacity: Int64
        var replicas: Int64
        var thick: Bool
        var used: Int64 = 0
        var objects: Int64 = 0
        var noncurrent: Int64 = 0
        var versions: Int64 = 0
        var snapshot: Int64 = 0
        var shared: Int64 = 0
        var allocated: Int64 = 0
        var inflightLogical: Int64 = 0
        /// Pool bytes held by uploads still receiving their body (thin volumes): shown in
        /// reserved_bytes, so space a slow upload pins is visible.
        var uploadPhysical: Int64 = 0

        /// Pool bytes a thick volume holds but has not allocated.
        var thickReserved: Int64 { thick ? max(0, capacity * replicas - allocated) : 0 }

        var usage: VolumeUsage {
            var usage = VolumeUsage(
                usedBytes: used, objectCount: objects, allocatedBytes: allocated, reservedBytes: thickReserved + uploadPhysical)
            (usage.noncurrentBytes, usage.versionCount, usage.snapshotBytes, usage.sharedBytes) = (noncurrent, versions, snapshot, shared)
            return usage
        }
    }

    struct PoolCounters: Sendable {
        var devices: [String: DeviceSpace] = [:]
        var capacity: Int64 = 0
        var allocated: Int64 = 0
        var thickReserved: Int64 = 0
        /// Devices nothing new is allocated on: readonly ones (false) keep their copies; draining
        /// or failed ones (true) have theirs moved onto the others, so all of them is withheld.
        var withheld: [String: Bool] = [:]

        /// What new writes may still be given: the active devices' free space, less the copies
        /// that must move onto them and the thick reservations.
        var free: Int64 {
            var held: Int64 = 0
            for (id, moving) in withheld {
                guard let device = devices[id] else { continue }
                held += moving ? device.capacityBytes : device.capacityBytes - device.allocatedBytes
            }
            return max(0, capacity - allocated - thickReserved - held)
        }
    }

    private static let stripeCount = 16
    private let stripes: [Lock<[Int64: VolumeCounters]>] = (0..<SpaceAccounting.stripeCount).map { _ in Lock([:]) }
    private let pool = Lock(PoolCounters())
    /// Physical bytes the fast path may hand out without the pool lock (never more than is free).
    private let budget = Atomic<Int64>(0)
    /// Physical bytes reserved by in-flight writes to thin volumes.
    private let inflight = Atomic<Int64>(0)

    package init() {}

    /// What one upload (or one cached object's dirty pages) holds.
    package struct Reservation: Sendable, Equatable {
        var volumeID: Int64
        var thick: Bool
        var logical: Int64 = 0
        var physical: Int64 = 0
        /// Size of the version being replaced, credited against the quota.
        var replacing: Int64 = 0
        /// Held by an upload receiving its body (counted in the volume's uploadPhysical).
        var upload = false
    }

    /// What admission may hand out of `free`: a hidden 1/65 stays back (bcachefs's slack) for
    /// what writeback allocates beyond the reservations — copy-on-write of data already on disk,
    /// partial last blocks — so a write that was accepted never meets a full pool at writeback.
    static func reservable(_ free: Int64) -> Int64 { free - free / 65 }

    /// `logical` bytes rounded up to the allocation unit, on every replica; saturates at Int64.max
    /// (which no pool holds, so a reservation of it is refused) rather than trapping.
    static func physicalBytes(logical: Int64, replicas: Int64) -> Int64 {
        let units = logical / Allocator.unit + (logical % Allocator.unit > 0 ? 1 : 0)
        let (bytes, over) = units.multipliedReportingOverflow(by: Allocator.unit)
        let (physical, overflow) = bytes.multipliedReportingOverflow(by: replicas)
        return over || overflow ? .max : physical
    }

    private func stripe(_ volumeID: Int64) -> Lock<[Int64: VolumeCounters]> {
        stripes[Int(UInt64(bitPattern: volumeID) % UInt64(Self.stripeCount))]
    }

    // MARK: - Reservations

    /// Adds `logical` quota bytes and `physical` pool bytes to `reservation`, or throws noSpace
    /// (and holds nothing more). Thick volumes take no pool bytes: theirs were set aside at creation.
    func reserve(_ reservation: inout Reservation, logical: Int64, physical: Int64) throws(EngineError) {
        let volumeID = reservation.volumeID
        let replacing = reservation.replacing
        if logical > 0 {
            try stripe(volumeID).withLock { volumes throws(EngineError) in
                guard var volume = volumes[volumeID] else { throw .catalog("volume \(volumeID) is not in the space accounting") }
                let quotaLeft = volume.capacity - (volume.used - replacing) - volume.inflightLogical
                if logical > quotaLeft { throw .noSpace(.volumeQuota, needed: logical, available: max(0, quotaLeft)) }
                volume.inflightLogical += logical
                volumes[volumeID] = volume
            }
        }
        if !reservation.thick, physical > 0 {
            do throws(EngineError) {
                try takePool(physical)
            } catch {
                if logical > 0 { stripe(volumeID).withLock { $0[volumeID]?.inflightLogical -= logical } }
                throw error
            }
            reservation.physical += physical
            if reservation.upload { uploadHolds(volumeID, physical) }
        }
        reservation.logical += max(0, logical)
    }

    /// Changes what uploads of `volumeID` are shown to hold.
    private func uploadHolds(_ volumeID: Int64, _ bytes: Int64) {
        guard bytes != 0 else { return }
        stripe(volumeID).withLock { $0[volumeID]?.uploadPhysical += bytes }
    }

    /// An upload's reservation became the cache's (its pages now hold it): no longer shown as the upload's.
    func uploadHandedOver(volumeID: Int64, physical: Int64) {
        uploadHolds(volumeID, -physical)
    }

    /// Adds `logical` bytes and their physical footprint (rounded to the allocation unit, every
    /// replica) to an upload's reservation.
    func reserve(_ reservation: inout Reservation, logical: Int64, replicas: Int64) throws(EngineError) {
        let physical = Self.physicalBytes(logical: reservation.logical + logical, replicas: replicas) - reservation.physical
        try reserve(&reservation, logical: logical, physical: reservation.thick ? 0 : physical)
    }

    /// Reserves raw amounts for the page cache (buffered writes), or throws noSpace.
    func reserveBuffered(volumeID: Int64, thick: Bool, logical: Int64, physical: Int64, replacing: Int64, upload: Bool = false) throws(EngineError) {
        var reservation = Reservation(volumeID: volumeID, thick: thick, replacing: replacing, upload: upload)
        try reserve(&reservation, logical: logical, physical: physical)
    }

    /// Gives back raw amounts reserved with `reserveBuffered`.
    func releaseBuffered(volumeID: Int64, thick: Bool, logical: Int64, physical: Int64, upload: Bool = false) {
        release(Reservation(volumeID: volumeID, thick: thick, logical: logical, physical: physical, upload: upload))
    }

    /// Throws the refusal a reservation of `logical` / `physical` bytes is certain to get now,
    /// even if it replaced an object holding everything the volume uses; reserves nothing.
    func refuseEarly(volumeID: Int64, thick: Bool, logical: Int64, physical: Int64) throws(EngineError) {
        let quotaLeft = stripe(volumeID).withLock { volumes -> Int64? in
            volumes[volumeID].map { $0.capacity - $0.inflightLogical }
        }
        if let quotaLeft, logical > quotaLeft {
            throw .noSpace(.volumeQuota, needed: logical, available: max(0, quotaLeft))
        }
        if !thick, physical > reservableBytes {
            throw .noSpace(.pool, needed: physical, available: reservableBytes)
        }
    }

    /// The fast path: one compare-and-swap on the budget. In-flight bytes are counted before the
    /// budget is taken, so a recount under the lock never misses a reservation it admitted.
    @inline(__always)
    private func takePool(_ bytes: Int64) throws(EngineError) {
        inflight.wrappingAdd(bytes, ordering: .sequentiallyConsistent)
        var current = budget.load(ordering: .sequentiallyConsistent)
        while current >= bytes {
            let (exchanged, original) = budget.compareExchange(
                expected: current, desired: current - bytes, ordering: .sequentiallyConsistent)
            if exchanged { return }
            current = original
        }
        inflight.wrappingSubtract(bytes, ordering: .sequentiallyConsistent)
        try takePoolSlow(bytes)
    }

    /// The slow path: under the pool lock, drain the budget (no fast path can take from it now),
    /// count exactly what is left, take `bytes` from it or refuse, and refill the budget.
    private func takePoolSlow(_ bytes: Int64) throws(EngineError) {
        try pool.withLock { pool throws(EngineError) in
            _ = budget.exchange(0, ordering: .sequentiallyConsistent)
            let left = Self.reservable(pool.free) - inflight.load(ordering: .sequentiallyConsistent)
            guard bytes <= left else {
                budget.store(max(0, left), ordering: .sequentiallyConsistent)
                throw .noSpace(.pool, needed: bytes, available: max(0, left))
            }
            inflight.wrappingAdd(bytes, ordering: .sequentiallyConsistent)
            budget.store(left - bytes, ordering: .sequentiallyConsistent)
        }
    }

    /// Gives back what `reservation` holds (an upload that failed, pages dropped or re-reserved).
    /// The budget is not refilled here: the next slow path counts the bytes again.
    func release(_ reservation: Reservation) {
        if reservation.logical != 0 {
            stripe(reservation.volumeID).withLock { $0[reservation.volumeID]?.inflightLogical -= reservation.logical }
        }
        if !reservation.thick, reservation.physical != 0 {
            inflight.wrappingSubtract(reservation.physical, ordering: .sequentiallyConsistent)
            if reservation.upload { uploadHolds(reservation.volumeID, -reservation.physical) }
        }
    }

    /// Runs `commit` (a durable catalog change that reports what it changed) and applies the
    /// change to the counters, releasing `reservation`, in one step; on failure nothing changes.
    func commit<T>(
        _ reservation: Reservation, _ commit: () throws(EngineError) -> (T, UsageDelta?)
    ) throws(EngineError) -> T {
        let (result, delta) = try commit()
        apply(delta, releasing: reservation)
        return result
    }

    /// Applies a committed change to the counters and releases the reservation it used. Between
    /// the catalog commit and this, the counters still show the old version and the reservation:
    /// never less than the truth, so admission stays safe.
    func apply(_ delta: UsageDelta?, releasing reservation: Reservation) {
        var thickReservedChange: Int64 = 0
        stripe(reservation.volumeID).withLock { volumes in
            guard var volume = volumes[reservation.volumeID] else { return }
            let before = volume.thickReserved
            if let delta, delta.volumeID == reservation.volumeID {
                volume.used += delta.usedBytes
                volume.objects += delta.objectCount
                volume.noncurrent += delta.noncurrentBytes
                volume.versions += delta.versionCount
                volume.snapshot += delta.snapshotBytes
                volume.shared += delta.sharedBytes
                volume.allocated += delta.allocatedBytes
            }
            volume.inflightLogical -= reservation.logical
            if reservation.upload, !reservation.thick { volume.uploadPhysical -= reservation.physical }
            thickReservedChange = volume.thickReserved - before
            volumes[reservation.volumeID] = volume
        }
        precondition(delta == nil || delta!.volumeID == reservation.volumeID, "a commit's figures applied to another volume")
        let released = reservation.thick ? 0 : reservation.physical
        pool.withLock { pool in
            let before = Self.reservable(pool.free)
            for (device, bytes) in delta?.allocatedByDevice ?? [:] {
                pool.devices[device]?.allocatedBytes += bytes
                pool.allocated += bytes
            }
            pool.thickReserved += thickReservedChange
            inflight.wrappingSubtract(released, ordering: .sequentiallyConsistent)
            // What admission may now hand out grew by the released bytes, less what the pool lost.
            budget.wrappingAdd(released - (before - Self.reservable(pool.free)), ordering: .sequentiallyConsistent)
        }
    }

    // MARK: - Control plane (after the catalog change committed)

    /// Sets every counter from a recount of the catalog (at open, before any request).
    func load(_ recount: UsageRecount) {
        var pool = PoolCounters()
        pool.devices = recount.devices
        pool.capacity = recount.devices.values.reduce(0) { $0 + $1.capacityBytes }
        pool.allocated = recount.devices.values.reduce(0) { $0 + $1.allocatedBytes }
        var byStripe = Array(repeating: [Int64: VolumeCounters](), count: Self.stripeCount)
        for record in recount.volumes {
            let usage = recount.volumeUsages[record.id!] ?? .zero
            let volume = VolumeCounters(
                capacity: record.capacityBytes, replicas: record.replicas, thick: record.isThick,
                used: usage.usedBytes, objects: usage.objectCount, noncurrent: usage.noncurrentBytes, versions: usage.versionCount,
                snapshot: usage.snapshotBytes, shared: usage.sharedBytes,
                allocated: usage.allocatedBytes)
            pool.thickReserved += volume.thickReserved
            byStripe[Int(UInt64(bitPattern: record.id!) % UInt64(Self.stripeCount))][record.id!] = volume
        }
        for (i, volumes) in byStripe.enumerated() {
            stripes[i].withLock { current in
                let inflight = current.mapValues(\.inflightLogical)
                current = volumes
                for (id, logical) in inflight where current[id] != nil { current[id]!.inflightLogical = logical }
            }
        }
        self.pool.withLock { current in
            current = pool
            _ = budget.exchange(0, ordering: .sequentiallyConsistent)
        }
    }

    /// Changes the pool's figures in a way that may shrink what is free: the budget is drained so
    /// the next reservation counts afresh.
    private func changePool(_ change: (inout PoolCounters) -> Void) {
        pool.withLock { pool in
            change(&pool)
            _ = budget.exchange(0, ordering: .sequentiallyConsistent)
        }
    }

    func volumeCreated(_ record: VolumeRecord) {
        let volume = VolumeCounters(
            capacity: record.capacityBytes, replicas: record.replicas, thick: record.isThick)
        stripe(record.id!).withLock { $0[record.id!] = volume }
        changePool { $0.thickReserved += volume.thickReserved }
    }

    func volumeResized(id: Int64, capacityBytes: Int64) {
        let change: Int64 = stripe(id).withLock { volumes in
            guard var volume = volumes[id] else { return 0 }
            let before = volume.thickReserved
            volume.capacity = capacityBytes
            volumes[id] = volume
            return volume.thickReserved - before
        }
        changePool { $0.thickReserved += change }
    }

    /// A volume and everything in it is gone; `freed` are its replicas.
    func volumeDeleted(id: Int64, freed: [ExtentReplicaRecord]) {
        let volume = stripe(id).withLock { $0.removeValue(forKey: id) }
        changePool { pool in
            for replica in freed {
                pool.devices[replica.deviceId]?.allocatedBytes -= replica.length
                pool.allocated -= replica.length
            }
            pool.thickReserved -= volume?.thickReserved ?? 0
        }
    }

    /// A copy of `length` bytes moved from one device to another (a repair or a drain): the
    /// pool's allocation is unchanged, the devices' shares change.
    func replicaMoved(from: String, to: String, length: Int64) {
        guard from != to else { return }
        changePool { pool in
            pool.devices[from]?.allocatedBytes -= length
            pool.devices[to]?.allocatedBytes += length
        }
    }

    func deviceAdded(id: String, capacityBytes: Int64) {
        changePool { pool in
            if let old = pool.devices[id] { pool.capacity -= old.capacityBytes }
            pool.devices[id] = DeviceSpace(capacityBytes: capacityBytes, allocatedBytes: pool.devices[id]?.allocatedBytes ?? 0)
            pool.capacity += capacityBytes
        }
    }

    /// Nothing new goes to `id` any more (`moving`: its copies move onto the others), or, with
    /// nil, it takes allocations again.
    func withhold(_ id: String, moving: Bool?) {
        changePool { $0.withheld[id] = moving }
    }

    /// Whether what in-flight writes hold would still fit with `id` withheld; the figures.
    func fitsWithout(_ id: String, moving: Bool) -> (fits: Bool, needed: Int64, available: Int64) {
        pool.withLock { pool in
            var after = pool
            after.withheld[id] = moving
            let available = Self.reservable(after.free)
            let needed = inflight.load(ordering: .sequentiallyConsistent)
            return (needed <= available, needed, available)
        }
    }

    func deviceRemoved(id: String) {
        changePool { pool in
            pool.withheld[id] = nil
            guard let device = pool.devices.removeValue(forKey: id) else { return }
            pool.capacity -= device.capacityBytes
            pool.allocated -= device.allocatedBytes
        }
    }

    // MARK: - Figures

    func volumeUsage(_ id: Int64) -> VolumeUsage? {
        stripe(id).withLock { $0[id]?.usage }
    }

    /// (capacity, allocated, reserved) of the pool: reserved is what thick volumes hold and have
    /// not allocated, plus what writes in flight (uploads, dirty pages) hold on thin ones.
    func poolFigures() -> (capacity: Int64, allocated: Int64, reserved: Int64) {
        pool.withLock { ($0.capacity, $0.allocated, $0.thickReserved + inflight.load(ordering: .sequentiallyConsistent)) }
    }

    func deviceAllocated(_ id: String) -> Int64 {
        pool.withLock { $0.devices[id]?.allocatedBytes ?? 0 }
    }

    /// In-flight physical bytes (thin volumes).
    var inflightPhysical: Int64 { inflight.load(ordering: .sequentiallyConsistent) }

    /// What admission may hand out now (free less slack less in flight).
    var reservableBytes: Int64 { max(0, pool.withLock { Self.reservable($0.free) } - inflightPhysical) }

    /// Every counter that mirrors the catalog (not the in-flight reservations), for comparison
    /// with a recount.
    package func figures() -> SpaceFigures {
        var volumes: [Int64: VolumeUsage] = [:]
        for stripe in stripes { stripe.withLock { for (id, volume) in $0 { volumes[id] = volume.usage } } }
        return pool.withLock { pool in
            SpaceFigures(
                capacityBytes: pool.capacity, allocatedBytes: pool.allocated, reservedBytes: pool.thickReserved,
                devices: pool.devices, volumes: volumes)
        }
    }
}

/// The pool's, the devices' and the volumes' figures as the counters hold them.
package struct SpaceFigures: Sendable, Equatable {
    package var capacityBytes: Int64
    package var allocatedBytes: Int64
    package var reservedBytes: Int64
    package var devices: [String: DeviceSpace]
    package var volumes: [Int64: VolumeUsage]
}
