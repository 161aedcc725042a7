// The space invariant, checked on demand (tests, and later `appliance check`): on every device,
// the allocator's free ranges, the ranges the catalog's extents hold and the ranges waiting in
// DeferredFree tile the data area exactly: no range twice (a double free or a shared block), no
// gap (a leak). Only meaningful when no write is in flight.
import Catalog

extension Engine {
    /// What breaks the invariant, one line per problem; empty when it holds.
    package func spaceAudit() -> [String] {
        let live: [PhysicalRange]
        do {
            live = try catalog.allExtentReplicas().map(PhysicalRange.init)
        } catch {
            return ["catalog: \(error)"]
        }
        let pending = deferredFree.pendingRanges
        var problems: [String] = []
        for (id, free) in allocator.freeSpaces() {
            var pieces: [(offset: Int64, length: Int64, what: String)] = free.ranges.map { ($0.offset, $0.length, "free") }
            pieces += live.filter { $0.deviceID == id }.map { ($0.offset, $0.length, "extent") }
            pieces += pending.filter { $0.deviceID == id }.map { ($0.offset, $0.length, "retired") }
            pieces.sort { $0.offset < $1.offset }
            var position = free.start
            var previous = "start"
            for piece in pieces {
                if piece.offset < position {
                    problems.append("device \(id.prefix(8)): \(piece.what) \(piece.offset)+\(piece.length) overlaps \(previous)")
                } else if piece.offset > position {
                    problems.append("device \(id.prefix(8)): \(piece.offset - position) bytes at \(position) neither free nor held (leaked)")
                }
                position = max(position, piece.offset + piece.length)
                previous = "\(piece.what) ending at \(piece.offset + piece.length)"
            }
            if position < free.end {
                problems.append("device \(id.prefix(8)): \(free.end - position) bytes at \(position) neither free nor held (leaked)")
            }
            if position > free.end { problems.append("device \(id.prefix(8)): ranges run past the data area's end \(free.end)") }
        }
        return problems
    }
}
