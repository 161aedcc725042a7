// Page frames come from 8 MiB slabs and go back to a free list when a page is dropped: no
// per-page aligned malloc, and memory the cache already touched is reused instead of faulted in
// again. Slabs are never returned (the cache size bounds them). A fresh slab hands out its frames
// in ascending order, so pages filled one after another sit in one run of memory and a response
// can send them with few iovecs (`PinnedPages`).
import Synchronization

final class FramePool: Sendable {
    static let shared = FramePool()
    static let slabFrames = 2048

    private struct State {
        /// Frame addresses as integers (raw pointers are not Sendable).
        var free: [UInt] = []
        var carved = 0
    }

    private let state = Mutex(State())
    /// Held while a slab is carved: threads that find the free list empty at the same moment
    /// carve one slab between them, not one each (ten uploads starting together once carved
    /// 80 MiB for a 16 MiB cache).
    private let carving = Mutex(())

    /// Frames carved so far, and how many of them are free now.
    var counts: (carved: Int, free: Int) { state.withLock { ($0.carved, $0.free.count) } }

    func take() -> UnsafeMutableRawPointer {
        while true {
            if let address = state.withLock({ $0.free.popLast() }) { return UnsafeMutableRawPointer(bitPattern: address)! }
            carveSlabIfEmpty()
        }
    }

    /// `count` frames taken together, so that pages filled in order are adjacent in memory when
    /// the free list (or a fresh slab) has a run.
    func take(count: Int) -> [UnsafeMutableRawPointer] {
        var frames: [UnsafeMutableRawPointer] = []
        frames.reserveCapacity(count)
        while true {
            let taken = state.withLock { state -> [UInt] in
                let n = min(count - frames.count, state.free.count)
                defer { state.free.removeLast(n) }
                return state.free.suffix(n).reversed()
            }
            frames += taken.map { UnsafeMutableRawPointer(bitPattern: $0)! }
            if frames.count == count { return frames }
            carveSlabIfEmpty()
        }
    }

    /// Carves a slab unless another thread refilled the free list while this one waited to.
    private func carveSlabIfEmpty() {
        carving.withLock { _ in
            if state.withLock({ !$0.free.isEmpty }) { return }
            carveSlab()
        }
    }

    /// Puts a fresh slab's frames on the free list in descending order: they go out lowest first.
    private func carveSlab() {
        let bytes = Self.slabFrames * PageState.pageSize
        // No MADV_HUGEPAGE: with THP defrag "madvise" (the usual default) every huge-page fault may
        // compact memory synchronously; a 1 GiB write-through PUT took 2.4-3.6 s that way, 1.1-1.4 s without.
        let slab = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: PageState.pageSize)
        Syscalls.prefault(slab, length: bytes)  // Its frames are all about to be used.
        let first = UInt(bitPattern: Int(bitPattern: slab))
        state.withLock { state in
            state.carved += Self.slabFrames
            for i in (0..<Self.slabFrames).reversed() { state.free.append(first + UInt(i * PageState.pageSize)) }
        }
    }

    func give(_ frame: UnsafeMutableRawPointer) {
        state.withLock { $0.free.append(UInt(bitPattern: Int(bitPattern: frame))) }
    }
}
