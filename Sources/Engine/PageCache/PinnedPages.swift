// Cached pages lent to a response that sends them without copying (sendmsg over the frames).
// While pinned a page is not evicted, and a write to it goes to a copy (see `Page.sendPins`), so
// the bytes a response sends are one consistent snapshot and stay valid until `release`.
import Synchronization

package final class PinnedPages: @unchecked Sendable {
    // @unchecked: `pages` is immutable; `released` is atomic; `sendPins` changes under the cache's lock.
    /// The body as contiguous memory runs (adjacent frames merged), in order.
    package let segments: [(base: UnsafeRawPointer, count: Int)]
    package let length: Int64
    private let pages: [Page]
    private let cache: PageCache
    private let released = Atomic<Bool>(false)

    /// Pins `pages` (under the cache's lock) for `length` bytes from `offset` in the first page;
    /// nil, with nothing pinned, when they make more than `maxSegments` memory runs.
    init?(_ state: inout PageCache.State, cache: PageCache, pages: [Page], offset: Int, length: Int64, maxSegments: Int) {
        var segments: [(base: UnsafeRawPointer, count: Int)] = []
        var remaining = length
        for (i, page) in pages.enumerated() {
            let start = i == 0 ? offset : 0
            let count = Int(min(Int64(PageState.pageSize - start), remaining))
            let base = UnsafeRawPointer(page.bytes.baseAddress!) + start
            if let last = segments.last, last.base + last.count == base {
                segments[segments.count - 1].count += count
            } else {
                guard segments.count < maxSegments else { return nil }
                segments.append((base, count))
            }
            remaining -= Int64(count)
        }
        for page in pages {
            page.sendPins += 1
            page.referenced = true
        }
        self.pages = pages
        self.cache = cache
        self.length = length
        self.segments = segments
    }

    /// Gives the pages back to the cache. Idempotent: the second call (`deinit` after the send's
    /// release) does not take the cache lock.
    package func release() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        cache.state.withLock { _ in
            for page in pages { page.sendPins -= 1 }
        }
    }

    deinit { release() }
}
