// A 4 KiB page frame of object data and its per-sector state. Owned by the PageCache; every
// access happens under the cache's lock.
import Foundation

final class Page: @unchecked Sendable {
    // @unchecked: only touched under PageCache's lock.
    private let base: UnsafeMutableRawPointer
    var state = PageState()
    /// Bumped on every write, so writeback can tell whether a page changed while it was written.
    var generation: UInt64 = 0
    /// CLOCK reference bit for eviction of clean pages.
    var referenced = true
    /// Responses sending this frame without a copy (`PinnedPages`): while non-zero the page is
    /// neither evicted nor written in place (a write replaces it with a copy).
    var sendPins = 0

    var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: PageState.pageSize) }

    /// A zero-filled page; `zeroed: false` for one the caller overwrites whole.
    init(zeroed: Bool = true) {
        base = FramePool.shared.take()
        if zeroed { base.initializeMemory(as: UInt8.self, repeating: 0, count: PageState.pageSize) }
    }

    /// A page over `frame` (from FramePool), contents as they are.
    private init(frame: UnsafeMutableRawPointer) { base = frame }

    /// `count` pages whose frames are taken together (adjacent when possible), contents unset.
    static func batch(_ count: Int) -> [Page] {
        FramePool.shared.take(count: count).map(Page.init(frame:))
    }

    deinit { FramePool.shared.give(base) }

    /// A private copy of this page (bytes and state), for writing while the original is pinned.
    func copy() -> Page {
        let page = Page(zeroed: false)
        page.bytes.copyMemory(from: UnsafeRawBufferPointer(bytes))
        page.state = state
        page.generation = generation
        page.referenced = referenced
        return page
    }
}
