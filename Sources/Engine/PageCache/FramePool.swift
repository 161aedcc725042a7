// Page frames come from 2 MiB slabs and go back to a free list when a page is dropped: no
// per-page aligned malloc, and memory the cache already touched is reused instead of faulted in
// again. Slabs are never returned (the cache size bounds them).
import Synchronization

final class FramePool: Sendable {
    static let shared = FramePool()
    static let slabFrames = 512

    /// Frame addresses as integers (raw pointers are not Sendable).
    private let free = Mutex<[UInt]>([])

    func take() -> UnsafeMutableRawPointer {
        let address = free.withLock { frames -> UInt? in frames.popLast() }
        if let address { return UnsafeMutableRawPointer(bitPattern: address)! }
        let slab = UnsafeMutableRawPointer.allocate(byteCount: Self.slabFrames * PageState.pageSize, alignment: PageState.pageSize)
        let first = UInt(bitPattern: Int(bitPattern: slab))
        free.withLock { frames in
            for i in 1..<Self.slabFrames { frames.append(first + UInt(i * PageState.pageSize)) }
        }
        return slab
    }

    func give(_ frame: UnsafeMutableRawPointer) {
        free.withLock { $0.append(UInt(bitPattern: Int(bitPattern: frame))) }
    }
}
