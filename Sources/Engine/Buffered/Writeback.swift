// Writeback (fs-io-buffered's writepages): gather an object's dirty pages into contiguous runs,
// write them as new extents with every replica through the write path, make them durable,
// commit the spliced extent map (copy-on-write), then mark the sectors allocated and release
// their reservations. The space was reserved before the data was accepted.
import Logging
import Synchronization
import Catalog
import Foundation

extension Engine {
    private struct WritebackSnapshot {
        var object: CachedObject
        var pages: [(index: Int64, page: Page, mask: [Bool], generation: UInt64)]
        /// Contiguous stretches of `pages` (index ranges into it) and their byte lengths.
        var runs: [(pages: Range<Int>, start: Int64, length: Int)]
        var size: Int64
        var version: ObjectVersion
        var extents: [Extent]
        var replacesCommitted: Bool
        /// The catalog row the snapshot's committed extents belong to.
        var committedID: Int64?
        var reservedPhysical: Int64
        var reservedLogical: Int64
        var metadataGeneration: UInt64
    }

    /// Writes back one object's dirty pages and metadata; reports (and clears) the last
    /// background writeback error of the object. Waits for a writeback already running on it.
    package func flushObject(_ key: CacheKey) throws(EngineError) {
        guard let snapshot = try takeSnapshot(key) else { return }
        let pageSize = PageState.pageSize
        let largest = snapshot.runs.map(\.pages.count).max() ?? 0
        // Two runs in flight: the next run is copied while the devices write the last ones.
        let writes = ExtentWriteQueue(
            engine: self, replicas: Int(snapshot.object.replicas), volume: snapshot.object.volumeName,
            bufferBytes: max(1, largest) * pageSize, depth: 2)
        do throws(EngineError) {
            for (r, run) in snapshot.runs.enumerated() {
                // Each run is copied under the lock (whole pages, never torn); a page changed since
                // the snapshot stays dirty (its generation moved on) and is written again later.
                let buffer = writes.buffer()
                pageCache.state.withLock { _ in
                    for (k, entry) in snapshot.pages[run.pages].enumerated() {
                        UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[k * pageSize..<(k + 1) * pageSize])
                            .copyMemory(from: UnsafeRawBufferPointer(entry.page.bytes))
                    }
                }
                try writes.submit(buffer, length: run.length, logicalOffset: run.start, last: r == snapshot.runs.count - 1)
            }
            try writes.finish()
            let newExtents = writes.extents.map { extent in
                Extent(
                    logicalOffset: extent.logicalOffset, length: extent.length, checksums: Extent.decodeChecksums(extent.checksums),
                    replicas: extent.replicas.map { PhysicalRange(deviceID: $0.deviceID, offset: $0.offset, length: $0.length) })
            }
            let old = snapshot.replacesCommitted ? [] : snapshot.extents
            var (merged, freed) = ExtentSplice.splice(old: old, new: newExtents, size: snapshot.size)
            let records = merged.map { extent in
                NewExtent(
                    logicalOffset: extent.logicalOffset, length: extent.length, checksumBlock: Extent.checksumBlock,
                    checksums: Extent.encodeChecksums(extent.checksums), replicas: extent.replicas.map { ($0.deviceID, $0.offset, $0.length) })
            }
            let object = snapshot.object
            let reservation = SpaceAccounting.Reservation(
                volumeID: object.volumeID, thick: object.thick, logical: snapshot.reservedLogical, physical: snapshot.reservedPhysical)
            let (stored, replaced) = try space.commit(reservation) { () throws(EngineError) in
                let commit = try catalogCall(notFound: .volumeNotFound(name: object.volumeName)) {
                    // The extents are made durable with the commit's group, before its transaction.
                    try groupCommit.commit(self, devices: Set(writes.allocated.map(\.deviceID))) { transaction in
                        try transaction.commitObject(snapshot.version, extents: records, now: object.modifiedAt) { _, current in
                            // Kept pieces of the committed extents are only ours to keep over the row they came from.
                            if !snapshot.replacesCommitted, current?.id != snapshot.committedID {
                                throw EngineError.catalog("\(object.key) changed in the catalog under its writeback (row \(current?.id ?? -1), expected \(snapshot.committedID ?? -1))")
                            }
                        }
                    }
                }
                return ((commit.object, commit.replaced), commit.delta)
            }
            // A whole replacement frees whatever the catalog replaced; a splice, what it no longer references.
            if snapshot.replacesCommitted { freed = replaced.map { PhysicalRange(deviceID: $0.deviceId, offset: $0.physicalOffset, length: $0.length) } }
            finishWriteback(snapshot, merged: merged, committedID: stored.record.id)
            deferredFree.retire(freed)
        } catch {
            allocator.free(writes.drain())
            failWriteback(snapshot, error: error)
            throw error
        }
    }

    private func takeSnapshot(_ key: CacheKey) throws(EngineError) -> WritebackSnapshot? {
        try withIdleObject(key) { state throws(EngineError) -> WritebackSnapshot? in
            guard let object = state.objects[key] else { return nil }
            if let error = object.lastError {
                object.lastError = nil
                if !object.isDirty { throw error }
            }
            guard object.isDirty else { return nil }
            object.lifecycle.beginWriteback()
            var pages: [(Int64, Page, [Bool], UInt64)] = []
            var reserved = 0
            for (index, page) in object.pages.sorted(by: { $0.key < $1.key }) where page.state.isDirty {
                let mask = page.state.beginWriteback()
                reserved += zip(mask, page.state.sectors).reduce(0) { $0 + ($1.0 ? Int($1.1.replicasReserved) : 0) }
                pages.append((index, page, mask, page.generation))
            }
            // Contiguous dirty pages become one run (one or more large extents), up to 4 MiB.
            var runs: [(Range<Int>, Int64, Int)] = []
            var i = 0
            let pageSize = PageState.pageSize
            while i < pages.count {
                var j = i
                while j + 1 < pages.count, pages[j + 1].0 == pages[j].0 + 1, j + 1 - i < 1024 { j += 1 }
                let start = pages[i].0 * Int64(pageSize)
                let length = Int(min(Int64((j - i + 1) * pageSize), object.size - start))
                if length > 0 { runs.append((i..<j + 1, start, length)) }
                i = j + 1
            }
            return WritebackSnapshot(
                object: object, pages: pages.map { (index: $0.0, page: $0.1, mask: $0.2, generation: $0.3) },
                runs: runs.map { (pages: $0.0, start: $0.1, length: $0.2) }, size: object.size,
                version: ObjectVersion(volumeID: object.volumeID, key: object.key, size: object.size, etag: object.etag, contentType: object.contentType,
                    attributes: object.attributes),
                extents: object.extents, replacesCommitted: object.replacesCommitted, committedID: object.committedID,
                reservedPhysical: Int64(reserved * PageState.sectorSize), reservedLogical: object.reservedLogical,
                metadataGeneration: object.metadataGeneration)
        }
    }

    private func finishWriteback(_ snapshot: WritebackSnapshot, merged: [Extent], committedID: Int64?) {
        let object = snapshot.object
        pageCache.state.withLockWaking { state in
            var released = 0
            for entry in snapshot.pages {
                let stillDirty = entry.page.generation != entry.generation
                released += entry.page.state.markWritten(entry.mask, replicas: object.replicas, stillDirty: stillDirty)
                if !stillDirty, !entry.page.state.isDirty { PageCache.pageCleaned(&state, object) }
            }
            precondition(
                Int64(released * PageState.sectorSize) == snapshot.reservedPhysical,
                "writeback released \(released) sectors but snapshotted \(snapshot.reservedPhysical) bytes")
            object.extents = merged
            object.committedID = committedID
            object.committedSize = snapshot.size
            object.committedExists = true
            object.replacesCommitted = false
            object.createdAt = object.createdAt ?? object.modifiedAt
            object.reservedLogical -= snapshot.reservedLogical
            object.commitGeneration += 1
            if object.metadataGeneration == snapshot.metadataGeneration { object.metadataDirty = false }
            if !object.isDirty { object.dirtySince = nil }
            object.lifecycle.endWriteback()
            state.counters[object.volumeID, default: VolumeCacheStats()].writebackBytes += Int64(snapshot.runs.reduce(0) { $0 + $1.length })
        }
    }

    private func failWriteback(_ snapshot: WritebackSnapshot, error: EngineError) {
        let object = snapshot.object
        pageCache.state.withLockWaking { state in
            for entry in snapshot.pages { entry.page.state.writebackFailed() }
            object.lifecycle.endWriteback()
            object.lastError = error
            state.counters[object.volumeID, default: VolumeCacheStats()].writebackErrors += 1
        }
        logger.error("writeback failed; data stays dirty for a retry", metadata: ["key": "\(object.key)", "error": "\(error)"])
    }

    /// Writes back every dirty object of a volume; the first error (including one from an earlier
    /// background writeback) is reported. A key held by a commit bypassing the cache (a DELETE
    /// that dropped an async write acknowledged before this flush) is waited for: the flush
    /// returns only once what replaced that write is durable.
    package func flushVolume(named name: String) throws(EngineError) {
        let volume = try volumeRecord(named: name)
        let keys = pageCache.state.withLock { state in
            PageCache.dirtyObjects(&state).filter { entry in
                entry.key.volumeID == volume.id! && (entry.object.isDirty || entry.object.lastError != nil || !entry.object.lifecycle.isIdle)
            }.map(\.key)
        }
        var firstError: EngineError?
        for key in keys.sorted(by: { $0.key < $1.key }) {
            do throws(EngineError) {
                try flushObject(key)
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }
}
