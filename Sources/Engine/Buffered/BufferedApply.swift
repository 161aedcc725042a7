import Catalog
import Foundation
// Making staged buffered writes visible: install a replacement (PUT) or apply a range (PATCH)
// through the page cache (PageCache+Write.swift, under its lock), and move the space the upload
// held: what the cache did not take is released here.
import Logging
import Synchronization

extension Engine {
    func objectInfo(volume: VolumeRecord, key: String) throws(EngineError) -> ObjectInfo {
        guard let info = try pageCache.objectInfo(CacheKey(volumeID: volume.id!, key: key), load: cacheLoader(volume, key: key)) else {
            throw .objectNotFound(volume: volume.name, key: key)
        }
        return info
    }

    /// Space a PATCH of [offset, offset+length) needs: copies' worth of sectors not yet backed or
    /// reserved, and quota for growth past what is already covered.
    func patchReservation(volume: VolumeRecord, key: String, offset: Int64, length: Int64, alreadyLogical: Int64) throws(EngineError) -> (
        physical: Int64, logical: Int64
    ) {
        guard
            let needed = try pageCache.patchReservation(
                CacheKey(volumeID: volume.id!, key: key), load: cacheLoader(volume, key: key), offset: offset, length: length,
                alreadyLogical: alreadyLogical)
        else { throw .objectNotFound(volume: volume.name, key: key) }
        return needed
    }

    /// Installs a staged whole-object replacement as the visible version. `absentAtOpen`: the key
    /// had no version when the upload opened (it read the catalog then): an entry not cached is
    /// not read again. A version committed meanwhile (a direct PUT) is replaced all the same: the
    /// writeback's commit replaces whatever row the catalog holds and frees its extents.
    /// `conditions` are checked against the version replaced (read again, if not cached).
    func installReplacement(
        volume: VolumeRecord, key: String, contentType: String?, attributes: ObjectAttributes, etag: String?, size: Int64, pages: [Page],
        staging: Int, reservedLogical: Int64, reservedPhysical: Int64, absentAtOpen: Bool = false, conditions: WriteConditions = .none
    ) throws(EngineError) -> ObjectInfo {
        let load: PageCache.Loader =
            absentAtOpen && conditions.isEmpty ? { () throws(EngineError) -> CachedObject? in nil } : cacheLoader(volume, key: key)
        let installed = try pageCache.installReplacement(
            CacheKey(volumeID: volume.id!, key: key), load: load, volume: volume, contentType: contentType,
            attributes: attributes, etag: etag ?? ObjectWriter.newETag(), size: size, pages: pages, staging: staging,
            reservedLogical: reservedLogical, reservedPhysical: reservedPhysical, conditions: conditions, pinning: deferredFree)
        space.releaseBuffered(
            volumeID: volume.id!, thick: volume.isThick, logical: installed.releaseLogical,
            physical: installed.releasePhysical)
        return installed.info
    }

    /// Applies a staged PATCH atomically for its range; nil (nothing applied) when the version
    /// it would be spliced over shares its extents with other rows (copies): the PATCH is then
    /// written whole instead (`BufferedUpload.finish`).
    func applyPatch(
        volume: VolumeRecord, key: String, offset: Int64, length: Int64, staged: [Int64: (page: Page, bytes: Range<Int>)],
        reservedLogical: Int64, reservedPhysical: Int64
    ) throws(EngineError) -> ObjectInfo? {
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        let thick = volume.isThick
        let notFound = EngineError.objectNotFound(volume: volume.name, key: key)
        for _ in 0..<8 {
            // Pages partly overwritten and not cached are read from disk first, outside the lock.
            guard let (base, fills) = try readPatchBase(volume: volume, key: key, pages: staged) else { throw notFound }
            // The entry is checked again where the PATCH is applied: the same one, not committed since.
            if base.shared { return nil }
            let outcome = try pageCache.applyPatch(
                cacheKey, load: cacheLoader(volume, key: key), base: base, fills: fills, staged: staged, offset: offset, length: length,
                etag: ObjectWriter.newETag(), reservedLogical: reservedLogical, reservedPhysical: reservedPhysical, notFound: notFound
            ) { more throws(EngineError) in
                try space.reserveBuffered(volumeID: volume.id!, thick: thick, logical: 0, physical: more, replacing: 0)
            }
            if let outcome {
                space.releaseBuffered(volumeID: volume.id!, thick: thick, logical: 0, physical: outcome.excess)
                return outcome.info
            }
        }
        throw .catalog("the object kept changing while a PATCH was applied")
    }

    /// Reads the committed contents of staged pages that are partly overwritten and not cached;
    /// returns them with what they were read from.
    private func readPatchBase(
        volume: VolumeRecord, key: String, pages: [Int64: (page: Page, bytes: Range<Int>)]
    ) throws(EngineError) -> (PageCache.PatchBase, [Int64: Page])? {
        // Pinned before the extents are taken: a commit that replaces them cannot free them meanwhile.
        let epoch = deferredFree.pin()
        defer { deferredFree.unpin(epoch) }
        guard let base = try pageCache.patchBase(CacheKey(volumeID: volume.id!, key: key), load: cacheLoader(volume, key: key), pages: pages)
        else { return nil }
        if base.shared { return (base, [:]) }
        var fills: [Int64: Page] = [:]
        for index in base.needed {
            let page = Page(zeroed: false)  // readCommitted fills it whole (zeros past the end)
            try readCommitted(
                extents: base.extents, committedSize: base.committedSize, from: index * Int64(PageState.pageSize), into: page.bytes, key: key)
            fills[index] = page
        }
        return (base, fills)
    }

    /// Fills `buffer` (a whole number of pages) with committed bytes from `from`; holes and bytes
    /// past `committedSize` read as zeros.
    func readCommitted(extents: [Extent], committedSize: Int64, from: Int64, into bytes: UnsafeMutableRawBufferPointer, key: String)
        throws(EngineError)
    {
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
                if at >= 0, at % Int(block) == 0 {
                    // The extent's blocks fall on the buffer's own blocks: read in place.
                    let count = min(Int(padded - start), bytes.count - at)
                    try readExtentBlocks(
                        extent, offsetInExtent: start, length: count, into: UnsafeMutableRawBufferPointer(rebasing: bytes[at..<at + count]),
                        key: key)
                } else {
                    // An extent that begins inside a block of the object (a multipart part whose size
                    // is not a multiple of 4 KiB ends where the next part's extents begin): its blocks
                    // are read into a buffer of their own and the bytes wanted copied into place.
                    let bounce = AlignedBuffer(count: Int(padded - start))
                    try readExtentBlocks(extent, offsetInExtent: start, length: bounce.count, into: bounce.bytes, key: key)
                    let skip = Int(offsetInExtent - start)
                    let to = Int(position - from)
                    UnsafeMutableRawBufferPointer(rebasing: bytes[to..<to + Int(n)])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: bounce.bytes[skip..<skip + Int(n)]))
                }
                position += n
            }
        }
    }
}
