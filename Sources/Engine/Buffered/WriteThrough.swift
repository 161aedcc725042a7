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
        let capacity = pageCache.capacityPages
        for _ in 0..<(writeBack ? 1000 : 1) {
            let (reserved, epoch) = pageCache.state.withLock { (PageCache.reserveStaging(&$0, capacity: capacity, count: count), $0.roomEpoch) }
            if reserved { return true }
            guard writeBack else { return false }
            if !writeBackOldest() { pageCache.waitForRoom(after: epoch) }  // Others' writebacks or staged uploads hold it.
        }
        return false
    }

    /// Gives back the capacity held by `count` staged frames that will not be installed.
    func unstage(_ count: Int) {
        guard count > 0 else { return }
        pageCache.state.withLockWaking { state in
            state.staged -= count
            state.roomEpoch &+= 1
        }
    }

    /// Under the cache lock, inside the commit that bypassed the cache for `stored` (the version a
    /// direct upload just committed): an entry whose clean cached pages are `pages` (runs by first
    /// page index), moved from staged to cached.
    func writtenThroughObject(_ state: inout PageCache.State, volume: VolumeRecord, stored: StoredObject, pages: [Int64: [Page]], count: Int) -> CachedObject {
        let cacheKey = CacheKey(volumeID: volume.id!, key: stored.record.key)
        let pageSize = Int64(PageState.pageSize)
        let object = CachedObject(
            volumeID: volume.id!, volumeName: volume.name, key: stored.record.key, replicas: UInt8(volume.replicas),
            thick: volume.provisioning == Provisioning.thick.rawValue, committed: ObjectInfo(stored.record),
            extents: stored.extents.map(Extent.init), committedID: stored.record.id)
        let whole = [UInt8](repeating: UInt8(volume.replicas), count: PageState.sectorsPerPage)
        for (first, run) in pages {
            for (i, page) in run.enumerated() {
                let index = first + Int64(i)
                page.state.load(allocated: (index + 1) * pageSize <= object.committedSize ? whole : object.allocatedReplicas(page: index))
                PageCache.add(&state, page, at: index, of: object, key: cacheKey)
            }
        }
        state.staged -= count  // Counted against the capacity while staged; cached pages now.
        return object
    }
}
