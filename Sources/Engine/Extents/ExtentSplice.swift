// Copy-on-write of part of an object: new extents replace the overlapped parts of the old ones.
// Retained pieces keep their physical copies (narrowed); what no piece references any more is
// returned to be freed after the commit. Every boundary is a multiple of the checksum block.
enum ExtentSplice {
    /// `old` and `new` sorted, each non-overlapping; `new` pieces start on block boundaries.
    /// Extents past `size` are cut (a shrink). Returns the merged map and the physical ranges freed.
    static func splice(old: [Extent], new: [Extent], size: Int64) -> (extents: [Extent], freed: [PhysicalRange]) {
        let block = Extent.checksumBlock
        var cuts = new.map { ($0.logicalOffset, $0.logicalEnd) }
        cuts.append((size, Int64.max))
        var result: [Extent] = []
        var freed: [PhysicalRange] = []
        for extent in old {
            // The parts of `extent` not covered by any cut.
            var keep: [(Int64, Int64)] = [(extent.logicalOffset, extent.logicalEnd)]
            for (cutStart, cutEnd) in cuts where cutStart < extent.logicalEnd && cutEnd > extent.logicalOffset {
                keep = keep.flatMap { piece -> [(Int64, Int64)] in
                    var parts: [(Int64, Int64)] = []
                    if piece.0 < cutStart { parts.append((piece.0, min(piece.1, cutStart))) }
                    if piece.1 > cutEnd { parts.append((max(piece.0, cutEnd), piece.1)) }
                    return parts.filter { $0.0 < $0.1 }
                }
            }
            var keptPhysical: [(Int64, Int64)] = []  // offsets within the extent, block-aligned
            for (start, end) in keep {
                let delta = start - extent.logicalOffset
                precondition(delta % block == 0, "extent piece at \(start) is not block-aligned")
                let physicalLength = (end - start + block - 1) / block * block
                keptPhysical.append((delta, delta + physicalLength))
                result.append(
                    Extent(
                        logicalOffset: start, length: end - start,
                        checksums: Array(extent.checksums[Int(delta / block)..<Int((delta + physicalLength) / block)]),
                        replicas: extent.replicas.map { PhysicalRange(deviceID: $0.deviceID, offset: $0.offset + delta, length: physicalLength) }))
            }
            for replica in extent.replicas {
                var cursor: Int64 = 0
                for (from, to) in keptPhysical.sorted(by: { $0.0 < $1.0 }) {
                    if from > cursor {
                        freed.append(PhysicalRange(deviceID: replica.deviceID, offset: replica.offset + cursor, length: from - cursor))
                    }
                    cursor = max(cursor, to)
                }
                if replica.length > cursor {
                    freed.append(PhysicalRange(deviceID: replica.deviceID, offset: replica.offset + cursor, length: replica.length - cursor))
                }
            }
        }
        result += new.filter { $0.logicalOffset < size }
        result.sort { $0.logicalOffset < $1.logicalOffset }
        return (result, freed)
    }
}
