// Free space of one device: sorted, coalesced free ranges of its data area, in bytes. Rebuilt at
// start from the catalog's extents; nothing here is persisted. Not thread-safe: Allocator owns it.
struct FreeSpace: Sendable, Equatable, CustomStringConvertible {
    struct Range: Sendable, Equatable {
        var offset: Int64
        var length: Int64
        var end: Int64 { offset + length }
    }

    private(set) var ranges: [Range]
    private(set) var freeBytes: Int64
    let start: Int64
    let end: Int64

    init(start: Int64, length: Int64) {
        self.start = start
        end = start + length
        ranges = length > 0 ? [Range(offset: start, length: length)] : []
        freeBytes = length
    }

    var description: String { "free(\(freeBytes) bytes in \(ranges.count) ranges)" }

    var largest: Int64 { ranges.map(\.length).max() ?? 0 }

    /// Index of the first range whose end is after `offset`.
    private func firstIndex(endingAfter offset: Int64) -> Int {
        var low = 0
        var high = ranges.count
        while low < high {
            let mid = (low + high) / 2
            if ranges[mid].end <= offset { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Marks `[offset, offset+length)` as used (rebuild from the catalog). Returns false if any
    /// part of it was not free (a double allocation in the catalog).
    @discardableResult
    mutating func markUsed(offset: Int64, length: Int64) -> Bool {
        let i = firstIndex(endingAfter: offset)
        guard i < ranges.count, ranges[i].offset <= offset, ranges[i].end >= offset + length else { return false }
        let range = ranges[i]
        var replacement: [Range] = []
        if range.offset < offset { replacement.append(Range(offset: range.offset, length: offset - range.offset)) }
        if offset + length < range.end { replacement.append(Range(offset: offset + length, length: range.end - offset - length)) }
        ranges.replaceSubrange(i...i, with: replacement)
        freeBytes -= length
        return true
    }

    /// Takes up to `length` bytes (a multiple of `unit`) from the first range that holds all of it,
    /// else from the largest range. nil when no range holds at least `unit` bytes.
    mutating func take(upTo length: Int64, unit: Int64) -> Range? {
        precondition(length > 0 && length % unit == 0, "allocation of \(length) is not a multiple of \(unit)")
        let index =
            ranges.firstIndex { $0.length >= length }
            ?? ranges.indices.max { ranges[$0].length < ranges[$1].length }
        guard let index else { return nil }
        let granted = min(length, ranges[index].length / unit * unit)
        guard granted > 0 else { return nil }
        let offset = ranges[index].offset
        markUsed(offset: offset, length: granted)
        return Range(offset: offset, length: granted)
    }

    /// Returns `[offset, offset+length)` to the free ranges, coalescing with neighbours.
    mutating func free(offset: Int64, length: Int64) {
        precondition(offset >= start && offset + length <= end, "freeing \(offset)+\(length) outside \(start)..<\(end)")
        let i = firstIndex(endingAfter: offset)
        if i < ranges.count { precondition(ranges[i].offset >= offset + length, "double free of \(offset)+\(length)") }
        var range = Range(offset: offset, length: length)
        var lower = i
        var upper = i
        if i > 0, ranges[i - 1].end == offset {
            lower = i - 1
            range = Range(offset: ranges[i - 1].offset, length: range.length + ranges[i - 1].length)
        }
        if i < ranges.count, ranges[i].offset == offset + length {
            range.length += ranges[i].length
            upper = i + 1
        }
        ranges.replaceSubrange(lower..<upper, with: [range])
        freeBytes += length
    }
}
