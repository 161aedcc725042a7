// Walks a logical range of an object's extents, splitting it at extent boundaries (bcachefs's
// "split the bio"): each piece is either inside one extent or a hole.
package struct ExtentWalk: Sequence, IteratorProtocol {
    package enum Piece: Equatable {
        /// `length` bytes at `offsetInExtent` of extent `index`.
        case mapped(index: Int, offsetInExtent: Int64, length: Int64)
        /// Never-written bytes: read as zeros.
        case hole(length: Int64)
    }

    private let extents: [Extent]
    private var position: Int64
    private let end: Int64
    private var index: Int

    /// `extents` sorted by logical offset and not overlapping.
    package init(extents: [Extent], offset: Int64, length: Int64) {
        self.extents = extents
        position = offset
        end = offset + length
        var low = 0
        var high = extents.count
        while low < high {
            let mid = (low + high) / 2
            if extents[mid].logicalEnd <= offset { low = mid + 1 } else { high = mid }
        }
        index = low
    }

    package mutating func next() -> Piece? {
        guard position < end else { return nil }
        if index < extents.count, extents[index].logicalOffset <= position {
            let extent = extents[index]
            let length = Swift.min(extent.logicalEnd, end) - position
            defer {
                position += length
                index += 1
            }
            return .mapped(index: index, offsetInExtent: position - extent.logicalOffset, length: length)
        }
        let nextStart = index < extents.count ? extents[index].logicalOffset : end
        let length = Swift.min(nextStart, end) - position
        position += length
        return .hole(length: length)
    }
}
