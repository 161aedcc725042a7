// The one definition of per-sector state (bcachefs's bch_folio_sector). Every transition lives in
// PageState; Buffered, Direct and Writeback call those methods and never touch these fields.
package struct SectorState: Sendable, Equatable, CustomStringConvertible {
    package enum State: UInt8, Sendable, Equatable {
        /// A hole: nothing on disk, nothing reserved.
        case unallocated
        /// Space reserved, data only in memory (not yet dirty: e.g. a reservation made ahead).
        case reserved
        /// Modified in memory; `replicasReserved` copies' worth of space are held for it.
        case dirty
        /// Clean and on disk with `replicasAllocated` copies.
        case allocated
    }

    package fileprivate(set) var state: State = .unallocated
    /// Copies already on disk for this sector.
    package fileprivate(set) var replicasAllocated: UInt8 = 0
    /// Copies' worth of disk space reserved in memory for this sector.
    package fileprivate(set) var replicasReserved: UInt8 = 0

    package var description: String { "\(state)(a\(replicasAllocated) r\(replicasReserved))" }

    /// Space a write of this sector needs for `want` copies, in copies (bcachefs's rule).
    package func replicasToReserve(want: UInt8) -> UInt8 {
        want > replicasAllocated + replicasReserved ? want - replicasAllocated - replicasReserved : 0
    }
}

/// The per-page state: 8 sectors of 512 bytes, whether their state is known (loaded from the
/// extent map), and how many writeback IOs are in flight.
package struct PageState: Sendable, Equatable, CustomStringConvertible {
    package static let sectorSize = 512
    package static let sectorsPerPage = 8
    package static let pageSize = sectorSize * sectorsPerPage

    package private(set) var sectors = [SectorState](repeating: SectorState(), count: sectorsPerPage)
    package private(set) var known = false
    package private(set) var writebackInFlight = 0

    package init() {}

    package var description: String { "page(\(known ? "" : "unknown ")\(sectors.map(\.description).joined(separator: " ")))" }

    package var isDirty: Bool { sectors.contains { $0.state == .dirty } }
    package var reservedReplicas: Int { sectors.reduce(0) { $0 + Int($1.replicasReserved) } }
    package var dirtySectorCount: Int { sectors.filter { $0.state == .dirty }.count }

    /// Loads the sector state from the extent map: `allocated[i]` copies on disk for sector i.
    package mutating func load(allocated: [UInt8]) {
        precondition(allocated.count == Self.sectorsPerPage)
        for i in sectors.indices where sectors[i].state != .dirty {
            sectors[i].replicasAllocated = allocated[i]
            sectors[i].state = allocated[i] > 0 ? .allocated : (sectors[i].replicasReserved > 0 ? .reserved : .unallocated)
        }
        known = true
    }

    /// Copies' worth of sectors a write of `range` (sector indices) needs reserved before copying.
    package func reservationNeeded(_ range: Range<Int>, want: UInt8) -> Int {
        precondition(known, "sector state must be loaded before reserving")
        return range.reduce(0) { $0 + Int(sectors[$1].replicasToReserve(want: want)) }
    }

    /// The reservation for `range` is held: record it per sector and mark the sectors dirty.
    /// Returns the copies' worth of sectors moved into the page (must equal `reservationNeeded`).
    @discardableResult
    package mutating func markDirty(_ range: Range<Int>, want: UInt8) -> Int {
        var moved = 0
        for i in range {
            let add = sectors[i].replicasToReserve(want: want)
            sectors[i].replicasReserved += add
            moved += Int(add)
            sectors[i].state = .dirty
        }
        return moved
    }

    /// Writeback starts: returns which sectors it covers (the dirty ones).
    package mutating func beginWriteback() -> [Bool] {
        writebackInFlight += 1
        return sectors.map { $0.state == .dirty }
    }

    /// Writeback of the sectors in `mask` committed with `replicas` copies: they become allocated
    /// and their reservation is released. Sectors re-dirtied meanwhile (`stillDirty`) stay dirty
    /// but are now backed by the new allocation. Returns the copies' worth released.
    package mutating func markWritten(_ mask: [Bool], replicas: UInt8, stillDirty: Bool) -> Int {
        writebackInFlight -= 1
        var released = 0
        for i in sectors.indices where mask[i] {
            released += Int(sectors[i].replicasReserved)
            sectors[i].replicasReserved = 0
            sectors[i].replicasAllocated = replicas
            if !stillDirty { sectors[i].state = .allocated }
        }
        return released
    }

    /// Writeback failed: the sectors stay dirty with their reservation, for a retry.
    package mutating func writebackFailed() {
        writebackInFlight -= 1
    }

    /// The page is dropped (object deleted, replaced, or range invalidated): returns the copies'
    /// worth of reservation to give back.
    package mutating func invalidate() -> Int {
        let released = reservedReplicas
        sectors = [SectorState](repeating: SectorState(), count: Self.sectorsPerPage)
        known = false
        return released
    }
}
