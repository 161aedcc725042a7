import Catalog
import Foundation
// Writeback (fs-io-buffered's writepages): gather an object's dirty pages into contiguous runs,
// write them as new extents with every replica through the write path, make them durable,
// commit the spliced extent map (copy-on-write), then mark the sectors allocated and release
// their reservations. The space was reserved before the data was accepted.
//
// A small object (at most `inlineMaxBytes`) is written back whole into its catalog row instead
// (an inline extent; `writesInline` in Objects/ObjectIOPolicy.swift decides): no device write and no device flush, only the catalog's
// commit, which the group shares. An object whose committed version is inline and that grew
// past the limit leaves the catalog: its committed bytes are written to devices first (like a
// copy-on-write of data on disk, from the pool's slack), and the dirty runs are spliced over them.
import Logging
import Synchronization

extension Engine {
    /// Writes back one object's dirty pages and metadata; reports (and clears) the last
    /// background writeback error of the object. Waits for a writeback already running on it.
    package func flushObject(_ key: CacheKey) throws(EngineError) {
        guard let snapshot = try pageCache.beginWriteback(key) else { return }
        try writingBack(snapshot) { () throws(EngineError) in
            if writesInline(snapshot) {
                try writeBackInline(snapshot)
            } else {
                try writeBackExtents(snapshot)
            }
        }
    }

    /// Runs `body`, the writeback of `snapshot`; on an error the snapshot's pages stay dirty (for a
    /// retry) and the error is logged and rethrown.
    func writingBack<T>(_ snapshot: PageCache.WritebackSnapshot, _ body: () throws(EngineError) -> T) throws(EngineError) -> T {
        do throws(EngineError) {
            return try body()
        } catch {
            failedWriteback(snapshot, error)
            throw error
        }
    }

    func failedWriteback(_ snapshot: PageCache.WritebackSnapshot, _ error: EngineError) {
        pageCache.failWriteback(snapshot, error: error)
        logger.error("writeback failed; data stays dirty for a retry", metadata: ["key": "\(snapshot.object.key)", "error": "\(error)"])
    }

    func writeBackExtents(_ snapshot: PageCache.WritebackSnapshot) throws(EngineError) {
        let largest = snapshot.runs.map(\.pages.count).max() ?? 0
        // Two runs in flight: the next run is copied while the devices write the last ones. A run
        // may carry up to a block of committed bytes past its last page (`alignedTail`).
        let writes = ExtentWriteQueue(
            engine: self, replicas: Int(snapshot.object.replicas), volume: snapshot.object.volumeName,
            bufferBytes: (max(1, largest) + 1) * PageState.pageSize, depth: 2)
        var carried: [Extent] = []
        do throws(EngineError) {
            var old = snapshot.replacesCommitted ? [] : snapshot.extents
            if old.contains(where: \.isInline) {
                carried = try carryOutOfCatalog(snapshot)
                old = carried
            }
            for (r, run) in snapshot.runs.enumerated() {
                let buffer = writes.buffer()
                snapshot.copy(run: r, into: buffer.bytes)
                let tail = try alignedTail(snapshot, old: old, runEnd: run.start + Int64(run.length), into: buffer, at: run.length)
                try writes.submit(buffer, length: run.length + tail, logicalOffset: run.start, last: r == snapshot.runs.count - 1)
            }
            try writes.finish()
            let newExtents = writes.extents.map(Extent.init)
            let (merged, spliceFreed) = ExtentSplice.splice(old: old, new: newExtents, size: snapshot.size)
            let devices = Set((writes.allocated + carried.flatMap(\.replicas)).map(\.deviceID))
            let commit = try commitWriteback(snapshot, extents: merged.map(\.record), devices: devices)
            // A whole replacement frees whatever the catalog replaced; a splice, what it no longer references.
            let freed = snapshot.replacesCommitted ? commit.replaced.map(PhysicalRange.init) : spliceFreed
            pageCache.finishWriteback(
                snapshot, merged: merged, committedID: commit.object.record.id, copies: snapshot.object.replicas, reloadClean: !carried.isEmpty)
            deferredFree.retire(freed, inline: commit.replacedInline)
        } catch {
            allocator.free(writes.drain() + carried.flatMap(\.replicas))
            throw error
        }
    }

    /// The committed bytes a run ending at `runEnd` carries past its last page, copied into
    /// `buffer` at `at`; their count. A run ends on a page of the object, but an old extent may
    /// begin inside one (a multipart part whose size is not a multiple of 4 KiB): the piece of it
    /// kept after the run would begin inside one of its checksum blocks, which an extent cannot.
    /// So the run takes that extent's bytes up to its next block boundary (at most a block, from
    /// the pool's slack, like any copy-on-write of data on disk), and the kept piece starts there.
    private func alignedTail(
        _ snapshot: PageCache.WritebackSnapshot, old: [Extent], runEnd: Int64, into buffer: AlignedBuffer, at: Int
    ) throws(EngineError) -> Int {
        let block = Extent.checksumBlock
        guard runEnd < min(snapshot.size, snapshot.committedSize),
            let straddled = old.first(where: { $0.logicalOffset < runEnd && runEnd < $0.logicalEnd }),
            (runEnd - straddled.logicalOffset) % block != 0
        else { return 0 }
        let into = runEnd - straddled.logicalOffset
        let end = min(straddled.logicalOffset + (into + block - 1) / block * block, straddled.logicalEnd, snapshot.size)
        let count = Int(end - runEnd)
        let committed = AlignedBuffer(count: PageState.pageSize)
        let epoch = deferredFree.pin()
        defer { deferredFree.unpin(epoch) }
        try readCommitted(
            extents: snapshot.extents, committedSize: snapshot.committedSize, from: runEnd, into: committed.bytes, key: snapshot.object.key)
        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[at..<at + count])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: committed.bytes[0..<count]))
        return count
    }

    /// Commits the snapshot's version with `extents` (made durable on `devices` with the group's
    /// flush); returns the stored object and what of the version it replaced to free.
    private func commitWriteback(
        _ snapshot: PageCache.WritebackSnapshot, extents records: [NewExtent], devices: Set<String>
    ) throws(EngineError) -> ObjectCommit {
        try space.commit(reservation(of: snapshot)) { () throws(EngineError) in
            let commit = try catalogCall(notFound: .volumeNotFound(name: snapshot.object.volumeName)) {
                // The extents are made durable with the commit's group, before its transaction.
                try groupCommit.commit(self, devices: devices, writebackChange(snapshot, extents: records))
            }
            return (commit, commit.delta)
        }
    }

    /// What the snapshot's writeback reserved (released when its commit is applied).
    func reservation(of snapshot: PageCache.WritebackSnapshot) -> SpaceAccounting.Reservation {
        SpaceAccounting.Reservation(
            volumeID: snapshot.object.volumeID, thick: snapshot.object.thick, logical: snapshot.reservedLogical,
            physical: snapshot.reservedPhysical)
    }

    /// The catalog change that commits the snapshot's version with `extents`.
    func writebackChange(
        _ snapshot: PageCache.WritebackSnapshot, extents records: [NewExtent]
    ) -> (CatalogTransaction) throws -> ObjectCommit {
        { transaction in
            try transaction.commitObject(snapshot.version, extents: records, now: snapshot.object.modifiedAt) { current in
                // Kept pieces (or bytes) of the committed version are only ours to keep over the row they came from.
                if !snapshot.replacesCommitted, current?.id != snapshot.committedID {
                    throw EngineError.catalog(
                        "\(snapshot.object.key) changed in the catalog under its writeback (row \(current?.id ?? -1), expected \(snapshot.committedID ?? -1))"
                    )
                }
            }
        }
    }

    /// Writes the snapshot's whole object into its catalog row (`inlineExtent`).
    private func writeBackInline(_ snapshot: PageCache.WritebackSnapshot) throws(EngineError) {
        let extent = try inlineExtent(snapshot)
        finishInline(snapshot, try commitWriteback(snapshot, extents: [extent.record], devices: []))
    }

    /// The snapshot's inline version is committed: its entry is idle and clean again.
    func finishInline(_ snapshot: PageCache.WritebackSnapshot, _ commit: ObjectCommit) {
        let stored = commit.object
        pageCache.finishWriteback(
            snapshot, merged: stored.extents.map { Extent($0).withoutBody }, committedID: stored.record.id, copies: 0, reloadClean: true)
        deferredFree.retire(commit.replaced.map(PhysicalRange.init), inline: commit.replacedInline)
    }

    /// The snapshot's whole object as one inline extent: the committed bytes the dirty pages do
    /// not cover (read from the committed version), the dirty pages over them.
    func inlineExtent(_ snapshot: PageCache.WritebackSnapshot) throws(EngineError) -> Extent {
        let pageSize = PageState.pageSize
        let pages = Int((snapshot.size + Int64(pageSize) - 1) / Int64(pageSize))
        let body = AlignedBuffer(count: pages * pageSize)
        let dirty = Set(snapshot.pages.map(\.index))
        if !snapshot.replacesCommitted, snapshot.committedSize > 0, (0..<Int64(pages)).contains(where: { !dirty.contains($0) }) {
            let epoch = deferredFree.pin()
            defer { deferredFree.unpin(epoch) }
            try readCommitted(extents: snapshot.extents, committedSize: snapshot.committedSize, from: 0, into: body.bytes, key: snapshot.object.key)
        }
        for entry in snapshot.pages where entry.index < pages {
            let at = Int(entry.index) * pageSize
            UnsafeMutableRawBufferPointer(rebasing: body.bytes[at..<at + pageSize]).copyMemory(from: UnsafeRawBufferPointer(entry.page.bytes))
        }
        return withExtendedLifetime(body) { Extent(inline: UnsafeRawBufferPointer(body.bytes), length: Int(snapshot.size)) }
    }

    /// An object whose committed version is inline and that leaves the catalog: its committed
    /// bytes written to devices as extents (durable with the commit's group), which the dirty runs
    /// are then spliced over.
    private func carryOutOfCatalog(_ snapshot: PageCache.WritebackSnapshot) throws(EngineError) -> [Extent] {
        let length = Int(min(snapshot.committedSize, snapshot.size))
        guard length > 0 else { return [] }
        let block = Int(Extent.checksumBlock)
        let padded = (length + block - 1) / block * block
        let queue = ExtentWriteQueue(
            engine: self, replicas: Int(snapshot.object.replicas), volume: snapshot.object.volumeName, bufferBytes: padded, depth: 1)
        do throws(EngineError) {
            let buffer = queue.buffer()
            try readCommitted(
                extents: snapshot.extents, committedSize: snapshot.committedSize, from: 0,
                into: UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<padded]), key: snapshot.object.key)
            try queue.submit(buffer, length: length, logicalOffset: 0, last: true)
            try queue.finish()
        } catch {
            allocator.free(queue.drain())
            throw error
        }
        return queue.extents.map(Extent.init)
    }

    /// Writes back every dirty object of a volume, several at once (their commits grouped); the
    /// first error in key order (including one from an earlier background writeback) is
    /// reported. A key held by a commit bypassing the cache (a DELETE that dropped an async write
    /// acknowledged before this flush) is waited for: the flush returns only once what replaced
    /// that write is durable.
    package func flushVolume(named name: String) throws(EngineError) {
        let volume = try volumeRecord(named: name)
        let keys = pageCache.keysToFlush(volumeID: volume.id!).sorted { $0.key < $1.key }
        if let (_, error) = flushEach(keys, width: Self.flushWidth).first { throw error }
    }
}
