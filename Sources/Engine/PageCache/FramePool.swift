// Page frames come from 8 MiB slabs and go back to a free list when a page is dropped: no
// per-page aligned malloc, and memory the cache already touched is reused instead of faulted in
// again. Slabs are never returned (the cache size bounds them). A fresh slab hands out its frames
// in ascending order, so pages filled one after another sit in one run of memory and a response
// can send them with few iovecs (`PinnedPages`).
import Synchronization

final class FramePool: Sendable {
    static let shared = FramePool()
    static let slabFrames = 2048

    /// Frame addresses as integers (raw pointers are not Sendable).
    private let free = Mutex<[UInt]>([])

    func take() -> UnsafeMutableRawPointer {
        while true {
            if let address = free.withLock({ $0.popLast() }) { return UnsafeMutableRawPointer(bitPattern: address)! }
            carveSlab()
        }
    }

    /// `count` frames taken together, so that pages filled in order are adjacent in memory when
    /// the free list (or a fresh slab) has a run.
    func take(count: Int) -> [UnsafeMutableRawPointer] {
        var frames: [UnsafeMutableRawPointer] = []
        frames.reserveCapacity(count)
        while true {
            let taken = free.withLock { list -> [UInt] in
                let n = min(count - frames.count, list.count)
                defer { list.removeLast(n) }
                return list.suffix(n).reversed()
            }
            frames += taken.map { UnsafeMutableRawPointer(bitPattern: $0)! }
            if frames.count == count { return frames }
            carveSlab()
        }
    }

    /// Puts a fresh slab's frames on the free list in descending order: they go out lowest first.
    private func carveSlab() {
        let slab = UnsafeMutableRawPointer.allocate(byteCount: Self.slabFrames * PageState.pageSize, alignment: PageState.pageSize)
        Syscalls.prefault(slab, length: Self.slabFrames * PageState.pageSize)  // Its frames are all about to be used.
        let first = UInt(bitPattern: Int(bitPattern: slab))
        free.withLock { frames in
            for i in (0..<Self.slabFrames).reversed() { frames.append(first + UInt(i * PageState.pageSize)) }
        }
    }

    func give(_ frame: UnsafeMutableRawPointer) {
        free.withLock { $0.append(UInt(bitPattern: Int(bitPattern: frame))) }
    }
}
