// Making staged buffered writes visible: install a replacement (PUT) or apply a range (PATCH)
// under the cache lock, moving the upload's reservation into the per-sector state.
import Logging
import Synchronization
import Catalog
import Foundation

extension Engine {
    /// Above this, a buffered PUT goes through the direct writer instead of the cache.
    var spillThreshold: Int64 { Int64(pageCache.capacityPages) * Int64(PageState.pageSize) / 4 }

    /// Reads of objects larger than this stream past the cache (a large sequential read would
    /// only evict what is worth keeping): 64 MiB, or less for a small cache.
    var readBypassThreshold: Int64 { min(64 << 20, spillThreshold) }

    func objectInfo(volume: VolumeRecord, key: String) throws(EngineError) -> ObjectInfo {
        try withCachedObject(volume, key: key, for: .read) { _, object throws(EngineError) in
            guard let object, object.exists else { throw .objectNotFound(volume: volume.name, key: key) }
            return object.info
        }
    }

    /// Space a PATCH of [offset, offset+length) needs: copies' worth of sectors not yet backed or
    /// reserved, and quota for growth past what is already covered.
    func patchReservation(volume: VolumeRecord, key: String, offset: Int64, length: Int64, alreadyLogical: Int64) throws(EngineError) -> (physical: Int64, logical: Int64) {
        try withCachedObject(volume, key: key, for: .read) { _, object throws(EngineError) in
            guard let object, object.exists else { throw .objectNotFound(volume: volume.name, key: key) }
            let sector = Int64(PageState.sectorSize)
            var copies: Int64 = 0
            var position = offset / sector * sector
            while position < offset + length {
                let index = position / Int64(PageState.pageSize)
                let inPage = Int(position % Int64(PageState.pageSize)) / PageState.sectorSize
                var pageState = object.pages[index]?.state ?? PageState()
                if !pageState.known { pageState.load(allocated: object.allocatedReplicas(page: index)) }
                copies += Int64(pageState.reservationNeeded(inPage..<inPage + 1, want: object.replicas))
                position += sector
            }
            let covered = max(object.size, object.committedSize + object.reservedLogical) + alreadyLogical
            return (copies * sector, max(0, offset + length - covered))
        }
    }

    /// Installs a staged whole-object replacement as the visible version.
    func installReplacement(
        volume: VolumeRecord, key: String, contentType: String?, attributes: ObjectAttributes, etag: String?, size: Int64, pages: [Page],
        staging: Int, reservedLogical: Int64, reservedPhysical: Int64
    ) throws(EngineError) -> ObjectInfo {
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        let thick = volume.provisioning == Provisioning.thick.rawValue
        let (info, release) = try withCachedObject(volume, key: key, for: .change) {
            state, previous throws(EngineError) -> (ObjectInfo, (Int64, Int64)) in
            let dropped = PageCache.drop(&state, key: cacheKey, pinning: deferredFree)
            let object = CachedObject(
                volumeID: volume.id!, volumeName: volume.name, key: key, replicas: UInt8(volume.replicas), thick: thick,
                committed: nil, extents: previous?.extents ?? [], committedID: previous?.committedID)
            object.committedExists = previous?.committedExists ?? false
            object.committedSize = previous?.committedSize ?? 0
            object.createdAt = previous?.createdAt
            object.replacesCommitted = true
            object.size = size
            object.etag = etag ?? ObjectWriter.newETag()
            object.contentType = contentType
            object.attributes = attributes
            object.modifiedAt = Date().truncatedToMilliseconds
            PageCache.metadataDirtied(&state, object)
            object.dirtySince = .now
            object.reservedLogical = reservedLogical
            var moved = 0
            // The pages were counted against the capacity while staged (`staging` frames held).
            state.staged -= staging
            object.pages.reserveCapacity(pages.count)
            for (i, page) in pages.enumerated() {
                let index = Int64(i)
                let valid = Int(min(Int64(PageState.pageSize), size - index * Int64(PageState.pageSize)))
                page.state.load(allocated: [UInt8](repeating: 0, count: PageState.sectorsPerPage))
                moved += page.state.markDirty(0..<(valid + PageState.sectorSize - 1) / PageState.sectorSize, want: object.replicas)
                page.generation += 1
                PageCache.add(&state, page, at: index, of: object, key: cacheKey)
                PageCache.pageDirtied(&state, object)
            }
            state.objects[cacheKey] = object
            let excess = reservedPhysical - Int64(moved * PageState.sectorSize)
            precondition(excess >= 0, "replacement moved more reservation (\(moved) sectors) than it held (\(reservedPhysical) bytes)")
            return (object.info, (Int64(dropped.replicaSectors * PageState.sectorSize) + excess, dropped.logical))
        }
        space.releaseBuffered(volumeID: volume.id!, thick: thick, logical: release.1, physical: release.0)
        return info
    }

    /// Applies a staged PATCH atomically for its range.
    func applyPatch(
        volume: VolumeRecord, key: String, offset: Int64, length: Int64, staged: [Int64: (page: Page, bytes: Range<Int>)],
        reservedLogical: Int64, reservedPhysical: Int64
    ) throws(EngineError) -> ObjectInfo {
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        let thick = volume.provisioning == Provisioning.thick.rawValue
        for _ in 0..<8 {
            // Pages partly overwritten and not cached are read from disk first, outside the lock.
            guard let (fills, filledFrom, generation) = try prepareFills(volume: volume, key: key, pages: staged) else {
                throw .objectNotFound(volume: volume.name, key: key)
            }
            let capacity = pageCache.capacityPages
            let outcome = try withCachedObject(volume, key: key, for: .change) { state, object throws(EngineError) -> (ObjectInfo, Int64)? in
                guard let object, object.exists else { throw .objectNotFound(volume: volume.name, key: key) }
                // The fills are of the version they were read from: the same entry, not committed since.
                guard object === filledFrom, object.commitGeneration == generation else { return nil }
                var need = 0
                var targets: [(Int64, Page, Range<Int>)] = []
                for (index, entry) in staged.sorted(by: { $0.key < $1.key }) {
                    let page: Page
                    if let cached = object.pages[index] {
                        page = PageCache.writable(cached, at: index, of: object)
                    } else {
                        page = fills[index] ?? Page()
                        PageCache.evict(&state, capacity: capacity, toFit: 1)
                        PageCache.add(&state, page, at: index, of: object, key: cacheKey)
                    }
                    if !page.state.known { page.state.load(allocated: object.allocatedReplicas(page: index)) }
                    let sectors = entry.bytes.lowerBound / PageState.sectorSize..<(entry.bytes.upperBound + PageState.sectorSize - 1) / PageState.sectorSize
                    need += page.state.reservationNeeded(sectors, want: object.replicas)
                    targets.append((index, page, sectors))
                }
                let needBytes = Int64(need * PageState.sectorSize)
                if needBytes > reservedPhysical {
                    try space.reserveBuffered(volumeID: volume.id!, thick: thick, logical: 0, physical: needBytes - reservedPhysical, replacing: 0)
                }
                for (index, page, sectors) in targets {
                    let range = staged[index]!.bytes
                    UnsafeMutableRawBufferPointer(rebasing: page.bytes[range])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: staged[index]!.page.bytes[range]))
                    if !page.state.isDirty { PageCache.pageDirtied(&state, object) }
                    page.state.markDirty(sectors, want: object.replicas)
                    page.generation += 1
                    page.referenced = true
                }
                object.size = max(object.size, offset + length)
                object.reservedLogical += reservedLogical
                object.etag = ObjectWriter.newETag()
                object.attributes.checksums = [:]  // They described the bytes before the PATCH.
                object.modifiedAt = Date().truncatedToMilliseconds
                PageCache.metadataDirtied(&state, object)
                object.metadataGeneration += 1
                if object.dirtySince == nil { object.dirtySince = .now }
                return (object.info, max(0, reservedPhysical - needBytes))
            }
            if let (info, excess) = outcome {
                space.releaseBuffered(volumeID: volume.id!, thick: thick, logical: 0, physical: excess)
                return info
            }
        }
        throw .catalog("the object kept changing while a PATCH was applied")
    }

    /// Reads the committed contents of staged pages that are partly overwritten and not cached;
    /// returns them with the entry and the commit generation they were read from.
    private func prepareFills(
        volume: VolumeRecord, key: String, pages: [Int64: (page: Page, bytes: Range<Int>)]
    ) throws(EngineError) -> ([Int64: Page], CachedObject, UInt64)? {
        // Pinned before the extents are taken: a commit that replaces them cannot free them meanwhile.
        let epoch = deferredFree.pin()
        defer { deferredFree.unpin(epoch) }
        let snapshot = try withCachedObject(volume, key: key, for: .read) {
            _, object throws(EngineError) -> (CachedObject, [Int64], [Extent], Int64, UInt64)? in
            guard let object, object.exists else { return nil }
            let needed = pages.filter { index, entry in
                object.pages[index] == nil && entry.bytes != 0..<PageState.pageSize
                    && index * Int64(PageState.pageSize) < object.committedSize && !object.replacesCommitted
            }.map(\.key)
            return (object, needed, object.extents, object.committedSize, object.commitGeneration)
        }
        guard let (object, needed, extents, committedSize, generation) = snapshot else { return nil }
        var fills: [Int64: Page] = [:]
        for index in needed {
            let page = Page(zeroed: false)  // readCommitted fills it whole (zeros past the end)
            try readCommitted(extents: extents, committedSize: committedSize, from: index * Int64(PageState.pageSize), into: page.bytes, key: key)
            fills[index] = page
        }
        return (fills, object, generation)
    }

    /// Fills `buffer` (a whole number of pages) with committed bytes from `from`; holes and bytes
    /// past `committedSize` read as zeros.
    func readCommitted(extents: [Extent], committedSize: Int64, from: Int64, into bytes: UnsafeMutableRawBufferPointer, key: String) throws(EngineError) {
        bytes.initializeMemory(as: UInt8.self, repeating: 0)
        let length = min(Int64(bytes.count), max(0, committedSize - from))
        guard length > 0 else { return }
        let block = Extent.checksumBlock
        var position = from
        for piece in ExtentWalk(extents: extents, offset: from, length: length) {
            switch piece {
            case .hole(let n):
                position += n
            case .mapped(let index, let offsetInExtent, let n):
                let extent = extents[index]
                let start = offsetInExtent / block * block
                let padded = min((offsetInExtent + n + block - 1) / block * block, (extent.length + block - 1) / block * block)
                let at = Int(position - from) - Int(offsetInExtent - start)
                precondition(at >= 0 && at % Int(block) == 0, "unaligned page fill at \(position)")
                let count = min(Int(padded - start), bytes.count - at)
                try readExtentBlocks(extent, offsetInExtent: start, length: count, into: UnsafeMutableRawBufferPointer(rebasing: bytes[at..<at + count]), key: key)
                position += n
            }
        }
    }
}
