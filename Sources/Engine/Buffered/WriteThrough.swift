// Write-through for direct uploads made in buffered mode (a sync PUT too large to stage in the
// cache first): each extent, once written, is also copied into fresh page frames counted against
// the cache's capacity, and at commit they become the new version's clean cached pages. A read
// right after the upload is then served from memory, as a buffered write would have left it.
// `holdStaging` and `unstage` count staged frames for buffered uploads too.
import Catalog
import Foundation

extension Engine {
    /// Copies the first `length` bytes of `buffer` (an extent just written) into new page frames;
    /// empty when the cache cannot make room for them.
    func stageWritten(_ buffer: AlignedBuffer, length: Int) -> [Page] {
        let pageSize = PageState.pageSize
        let count = (length + pageSize - 1) / pageSize
        guard count > 0, holdStaging(count, writeBack: false) else { return [] }
        let pages = Page.batch(count)
        for (i, page) in pages.enumerated() {
            let start = i * pageSize
            let n = min(pageSize, length - start)
            page.bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer.bytes[start..<start + n]))
            if n < pageSize { UnsafeMutableRawBufferPointer(rebasing: page.bytes[n...]).initializeMemory(as: UInt8.self, repeating: 0) }
        }
        return pages
    }

    /// Counts `count` frames an upload stages outside the cache against its capacity (evicting
    /// clean pages for them). With `writeBack`, dirty objects are written back, oldest first, while
    /// that is what stands in the way. False when the cache cannot make room.
    func holdStaging(_ count: Int, writeBack: Bool) -> Bool {
        for _ in 0..<(writeBack ? 1000 : 1) {
            let (reserved, epoch) = pageCache.reserveStaging(count)
            if reserved { return true }
            guard writeBack else { return false }
            if !writeBackOldest() { pageCache.waitForRoom(after: epoch) }  // Others' writebacks or staged uploads hold it.
        }
        return false
    }

    /// Gives back the capacity held by `count` staged frames that will not be installed.
    func unstage(_ count: Int) {
        guard count > 0 else { return }
        pageCache.unstage(count)
    }
}
