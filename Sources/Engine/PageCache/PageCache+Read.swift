// The page cache's side of buffered reads (Buffered/BufferedRead.swift drives them): copying
// cached pages out, pinning them for a send without a copy, taking what a miss needs to read the
// committed version, and inserting the pages it read. Counts hits and misses per volume.
import Foundation

extension PageCache {
    /// Copies cached bytes of `object` from `offset + copied` into `destination[copied...]` up to
    /// `total`, advancing `copied`; stops at the first page not cached and returns its index (nil:
    /// all copied). One lock hold copies what one read asked for (a download asks for ≤ 1 MiB).
    func copyCached(
        _ object: CachedObject, offset: Int64, total: Int, into destination: UnsafeMutableRawBufferPointer, copied: inout Int
    ) -> Int64? {
        let pageSize = Int64(PageState.pageSize)
        return state.withLock { state -> Int64? in
            while copied < total {
                let position = offset + Int64(copied)
                let index = position / pageSize
                guard let page = object.pages[index] else {
                    state.counters[object.volumeID, default: VolumeCacheStats()].misses += 1
                    return index
                }
                let inPage = Int(position % pageSize)
                let n = min(total - copied, PageState.pageSize - inPage)
                UnsafeMutableRawBufferPointer(rebasing: destination[copied..<copied + n])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: page.bytes[inPage..<inPage + n]))
                page.referenced = true
                state.counters[object.volumeID, default: VolumeCacheStats()].hits += 1
                copied += n
            }
            return nil
        }
    }

    /// Pins pages `first...last` of `object` for a send without a copy (`PinnedPages`), when all
    /// are cached and make at most `maxSegments` runs of memory; nil, nothing pinned, otherwise.
    func pin(_ object: CachedObject, pages first: Int64, _ last: Int64, offset: Int, length: Int64, maxSegments: Int) -> PinnedPages? {
        state.withLock { state -> PinnedPages? in
            var pages: [Page] = []
            pages.reserveCapacity(Int(last - first + 1))
            for index in first...last {
                guard let page = object.pages[index] else { return nil }
                pages.append(page)
            }
            let pinned = PinnedPages(&state, cache: self, pages: pages, offset: offset, length: length, maxSegments: maxSegments)
            if pinned != nil { state.counters[object.volumeID, default: VolumeCacheStats()].hits += Int64(pages.count) }
            return pinned
        }
    }

    /// The committed version of `object` as it is now: its extents and size.
    func committedVersion(_ object: CachedObject) -> (extents: [Extent], size: Int64) {
        state.withLock { _ in (object.extents, object.committedSize) }
    }

    /// What a miss at page `first` reads: up to `count` pages not cached from there (at least
    /// one), the committed version's extents and size, whether the committed bytes are replaced
    /// whole (read as zeros), and the commit generation the read is of.
    struct Fill {
        var extents: [Extent]
        var committedSize: Int64
        var replaced: Bool
        var generation: UInt64
        var pages: Int
    }

    func planFill(_ object: CachedObject, from first: Int64, pages count: Int) -> Fill {
        let pageSize = Int64(PageState.pageSize)
        return state.withLock { _ in
            var run = 0
            while run < count, object.pages[first + Int64(run)] == nil, (first + Int64(run)) * pageSize < object.size { run += 1 }
            return Fill(
                extents: object.extents, committedSize: object.committedSize, replaced: object.replacesCommitted,
                generation: object.commitGeneration, pages: max(run, 1))
        }
    }

    /// Inserts the pages `fill` read (in `buffer`, from page `first`), clean, unless a commit
    /// changed the object since (the caller reads again). Pages of a version replaced meanwhile
    /// stay private to the reader that pinned it.
    func installFill(_ object: CachedObject, key: CacheKey, from first: Int64, _ fill: Fill, buffer: UnsafeRawBufferPointer) {
        let capacity = capacityPages
        state.withLock { state in
            guard object.commitGeneration == fill.generation else { return }  // Committed meanwhile: read again.
            let current = state.objects[key] === object
            for i in 0..<fill.pages {
                let index = first + Int64(i)
                guard object.pages[index] == nil else { continue }
                let page: Page
                if current {
                    page = Self.insert(&state, capacity: capacity, key: key, object: object, index: index, zeroed: false)
                } else {
                    page = Page(zeroed: false)
                    object.pages[index] = page
                }
                UnsafeMutableRawBufferPointer(page.bytes)
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[i * PageState.pageSize..<(i + 1) * PageState.pageSize]))
                page.state.load(allocated: object.allocatedReplicas(page: index))
            }
        }
    }

    /// A loaded entry whose committed extents are inline came with their bytes (read with its
    /// row, in the same catalog read): they become its clean pages now, so a cold read of a small
    /// object is that one read. Blocks that do not match their checksums are not cached (a read
    /// then goes to the catalog and reports them). The entry keeps its extents without the bytes.
    static func installInlineBodies(_ state: inout State, capacity: Int, key: CacheKey, _ object: CachedObject) {
        guard object.extents.contains(where: { $0.body != nil }) else { return }
        let pageSize = PageState.pageSize
        let noCopies = [UInt8](repeating: 0, count: PageState.sectorsPerPage)
        for extent in object.extents {
            guard let body = extent.body else { continue }
            precondition(extent.logicalOffset % Int64(pageSize) == 0, "an inline extent not on a page boundary")
            let first = extent.logicalOffset / Int64(pageSize)
            var scratch = [UInt8](repeating: 0, count: pageSize)
            body.withUnsafeBytes { raw in
                for i in 0..<(body.count + pageSize - 1) / pageSize where object.pages[first + Int64(i)] == nil {
                    let n = min(pageSize, body.count - i * pageSize)
                    let intact = scratch.withUnsafeMutableBytes { block in
                        block.initializeMemory(as: UInt8.self, repeating: 0)
                        UnsafeMutableRawBufferPointer(rebasing: block[0..<n])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[i * pageSize..<i * pageSize + n]))
                        return extent.verifies(UnsafeRawBufferPointer(block), offsetInExtent: Int64(i * pageSize))
                    }
                    guard intact else { continue }
                    let page = Self.insert(&state, capacity: capacity, key: key, object: object, index: first + Int64(i), zeroed: false)
                    scratch.withUnsafeBytes { UnsafeMutableRawBufferPointer(page.bytes).copyMemory(from: $0) }
                    page.state.load(allocated: noCopies)
                }
            }
        }
        object.extents = object.extents.map(\.withoutBody)
    }

    /// From memory only (an event loop may call it): `key`'s cached entry and what clients see
    /// of it, when it is cached and admits a read now; nil otherwise (not cached, or busy).
    /// Throws `notFound` for an entry of an object that does not exist.
    func cachedForRead(_ key: CacheKey, notFound: @autoclosure () -> EngineError) throws(EngineError) -> (CachedObject, ObjectInfo)? {
        let found = state.withLock { state -> (CachedObject, ObjectInfo?)? in
            guard let object = state.objects[key], object.lifecycle.admits(.read) == .proceed else { return nil }
            return (object, object.exists ? object.info : nil)
        }
        guard let (object, info) = found else { return nil }
        guard let info else { throw notFound() }
        return (object, info)
    }
}
