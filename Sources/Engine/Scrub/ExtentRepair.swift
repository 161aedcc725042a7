// Mending one extent: every copy is read and verified; each copy with a bad block, an IO error or
// a failed device (and, for a drain, the copy on the device being emptied) is rewritten from the
// good blocks of the others, copy-on-write: into newly allocated space (on the same device when
// it is the data that went bad, elsewhere when the device is gone or being emptied; never where
// another copy of the extent lies), made durable, then moved in the catalog in one small
// transaction that succeeds only if the copy is still where it was read. An overwrite or delete
// that got there first wins: the new space is given back, nothing is reverted. The old space is
// retired like any replaced version's (DeferredFree: after the readers that may still use it).
// The caller pins a DeferredFree epoch around the read of the item and this call.
import Catalog
import Foundation

/// What mending one extent found and did.
struct ExtentVerdict {
    var checkedBytes: Int64 = 0
    /// Copies with a bad block, an IO error, or on a failed device.
    var badCopies = 0
    var repaired = 0
    /// Copies moved off the evacuated device.
    var moved = 0
    var movedBytes: Int64 = 0
    var unrepairable: [UnrepairableRange] = []
    /// Why a copy that needed rewriting was not (no space, a write failed).
    var failures: [String] = []
}

extension Engine {
    /// Verifies every copy of `item`; rewrites the bad ones (with `repair`) and the one on
    /// `evacuate`.
    func mend(_ item: RepairItem, repair: Bool = true, evacuate: String? = nil) -> ExtentVerdict {
        let extent = Extent(item.extent)
        var verdict = ExtentVerdict()
        let block = Int(Extent.checksumBlock)
        let blocks = extent.checksums.count
        let padded = blocks * block
        guard blocks > 0 else { return verdict }
        if extent.isInline { return verifyInline(extent, item: item) }
        var buffers: [AlignedBuffer] = []
        var reads: [CopyRead] = []
        for replica in extent.replicas {
            let buffer = AlignedBuffer(count: padded, zeroed: false)
            let read = readCopy(extent, replica, into: buffer)
            if case .read = read { verdict.checkedBytes += Int64(padded) }
            buffers.append(buffer)
            reads.append(read)
        }
        // For each block, a copy that holds it intact.
        var source = [Int?](repeating: nil, count: blocks)
        for (index, read) in reads.enumerated() {
            guard case .read(let bad, _) = read else { continue }
            let badSet = Set(bad)
            for b in 0..<blocks where source[b] == nil && !badSet.contains(b) { source[b] = index }
        }
        var targets: [Int] = []
        for (index, read) in reads.enumerated() {
            let isBad: Bool
            switch read {
            case .missing, .failed: isBad = true
            case .read(let bad, _): isBad = !bad.isEmpty
            }
            if isBad { verdict.badCopies += 1 }
            if (isBad && repair) || extent.replicas[index].deviceID == evacuate { targets.append(index) }
        }
        let lost = (0..<blocks).filter { source[$0] == nil }
        if !lost.isEmpty {
            verdict.unrepairable = Self.ranges(of: lost, in: extent, volume: item.volumeName, key: item.key)
            return verdict
        }
        guard !targets.isEmpty else { return verdict }
        // The extent as it should be, from the good blocks; zeros past it to the end of the
        // copies' allocation (every copy of an extent has the same length), as a first write leaves.
        let good = AlignedBuffer(count: max(padded, Int(extent.replicas.map(\.length).max() ?? 0)))
        for b in 0..<blocks {
            UnsafeMutableRawBufferPointer(rebasing: good.bytes[b * block..<(b + 1) * block])
                .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffers[source[b]!].bytes[b * block..<(b + 1) * block]))
        }
        for index in targets {
            let old = extent.replicas[index]
            let otherDevices = Set(extent.replicas.indices.filter { $0 != index }.map { extent.replicas[$0].deviceID })
            // Off its device when the device is gone or being emptied; where it was when only data rotted.
            var leaves = old.deviceID == evacuate
            var rotted = false
            switch reads[index] {
            case .missing: leaves = true
            case .read: rotted = !leaves
            case .failed: break
            }
            let avoiding = leaves ? otherDevices.union([old.deviceID]) : otherDevices
            switch rewrite(good, replacing: old, of: item, avoiding: avoiding, preferring: rotted ? old.deviceID : nil) {
            case .success(true):
                if old.deviceID == evacuate {
                    verdict.moved += 1
                    verdict.movedBytes += old.length
                }
                if reads[index].isBad { verdict.repaired += 1 }
            case .success(false):
                return verdict  // the extent changed meanwhile: nothing of it is ours to mend
            case .failure(let error):
                verdict.failures.append("\(item.volumeName)/\(item.key) copy on \(old.deviceID): \(error)")
            }
        }
        return withExtendedLifetime((buffers, good)) { verdict }
    }

    /// An inline extent's bytes live in the catalog, whose pages are checksummed and kept on
    /// every copy (the mirror repairs a bad page from another copy as SQLite reads it): verified
    /// against the extent's checksums here, never rewritten. A mismatch is unrepairable.
    private func verifyInline(_ extent: Extent, item: RepairItem) -> ExtentVerdict {
        var verdict = ExtentVerdict()
        let blocks = extent.checksums.count
        if checkInline(extent, key: item.key) == nil {
            verdict.checkedBytes = Int64(blocks) * Extent.checksumBlock
        } else {
            verdict.badCopies = 1
            verdict.unrepairable = Self.ranges(of: Array(0..<blocks), in: extent, volume: item.volumeName, key: item.key)
        }
        return verdict
    }

    /// Writes `good` into new space for the copy `old` of `item`'s extent, makes it durable and
    /// moves the catalog's copy there, with the object's key held (`withKeyHeld`). Success(false):
    /// the copy was no longer where it was read (the new space is freed again).
    private func rewrite(
        _ good: AlignedBuffer, replacing old: PhysicalRange, of item: RepairItem, avoiding: Set<String>, preferring: String?
    ) -> Result<Bool, EngineError> {
        guard let target = allocator.allocateCopy(length: old.length, avoiding: avoiding, preferring: preferring) else {
            return .failure(.noSpace(.pool, needed: old.length, available: 0))
        }
        precondition(good.count >= Int(old.length), "a copy longer than its extent's allocation")
        do {
            try withExtendedLifetime(good) { () throws(EngineError) in
                try writeReplica(UnsafeRawBufferPointer(rebasing: good.bytes[0..<Int(old.length)]), to: target)
            }
            try makeDurable([target.deviceID])
            let moved = try withKeyHeld(item) { () throws(EngineError) in
                try catalogCall {
                    try catalog.moveReplica(
                        item.table, extentID: item.id, from: (old.deviceID, old.offset), to: (target.deviceID, target.offset, target.length))
                }
            }
            guard moved else {
                allocator.free([target])
                return .success(false)
            }
        } catch {
            allocator.free([target])
            return .failure(error)
        }
        space.replicaMoved(from: old.deviceID, to: target.deviceID, length: old.length)
        deferredFree.retire([old], inline: [])
        return .success(true)
    }

    /// Runs `move` (a copy of one of `item`'s extents moved in the catalog) with the object's key
    /// held, as a commit that bypasses the cache: a writeback of the object under way ends first
    /// (and its dirty pages are written back), and the cached entry, whose extents name where the
    /// copy was, is dropped, so that no later fill reads, and no later writeback splices over, the
    /// space the move gives up. A part's extents are never cached.
    /// The keys of every current row that reads the extent (`Catalog.readers`: its owner, which
    /// may have changed since the scan when its row left the extent to a copy, and the clones'
    /// and copies' rows that borrow it) are held too; one that starts reading it meanwhile has
    /// its entry dropped after the move.
    private func withKeyHeld(_ item: RepairItem, _ move: () throws(EngineError) -> Bool) throws(EngineError) -> Bool {
        guard item.table == .objects else { return try move() }
        let readers = try catalogCall { try catalog.readers(ofExtent: item.id) }
        var keys = [(try volumeRecord(named: item.volumeName), item.key)]
        for reader in readers { keys.append((try volumeRecord(named: reader.volume), reader.key)) }
        let moved = try holdingKeys(keys, move)
        for late in try catalogCall({ try catalog.readers(ofExtent: item.id) })
        where !readers.contains(where: { $0.volumeID == late.volumeID && $0.key.sameBytes(as: late.key) }) {
            try invalidateCached(volumeID: late.volumeID, key: late.key, writeBackFirst: false)
        }
        return moved
    }

    /// Logical ranges of the object covered by `blocks` (sorted block indexes) of `extent`.
    private static func ranges(of blocks: [Int], in extent: Extent, volume: String, key: String) -> [UnrepairableRange] {
        var ranges: [UnrepairableRange] = []
        let block = Extent.checksumBlock
        for b in blocks {
            let start = extent.logicalOffset + Int64(b) * block
            let end = min(start + block, extent.logicalEnd)
            guard start < end else { continue }
            if let last = ranges.last, last.offset + last.length == start {
                ranges[ranges.count - 1].length = end - last.offset
            } else {
                ranges.append(UnrepairableRange(volume: volume, key: key, offset: start, length: end - start))
            }
        }
        return ranges
    }
}
