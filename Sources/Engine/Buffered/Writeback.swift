import Catalog
import Foundation
// Writeback (fs-io-buffered's writepages): gather an object's dirty pages into contiguous runs,
// write them as new extents with every replica through the write path, make them durable,
// commit the spliced extent map (copy-on-write), then mark the sectors allocated and release
// their reservations. The space was reserved before the data was accepted.
import Logging
import Synchronization

extension Engine {
    /// Writes back one object's dirty pages and metadata; reports (and clears) the last
    /// background writeback error of the object. Waits for a writeback already running on it.
    package func flushObject(_ key: CacheKey) throws(EngineError) {
        guard let snapshot = try pageCache.beginWriteback(key) else { return }
        let pageSize = PageState.pageSize
        let largest = snapshot.runs.map(\.pages.count).max() ?? 0
        // Two runs in flight: the next run is copied while the devices write the last ones.
        let writes = ExtentWriteQueue(
            engine: self, replicas: Int(snapshot.object.replicas), volume: snapshot.object.volumeName,
            bufferBytes: max(1, largest) * pageSize, depth: 2)
        do throws(EngineError) {
            for (r, run) in snapshot.runs.enumerated() {
                let buffer = writes.buffer()
                snapshot.copy(run: r, into: buffer.bytes)
                try writes.submit(buffer, length: run.length, logicalOffset: run.start, last: r == snapshot.runs.count - 1)
            }
            try writes.finish()
            let newExtents = writes.extents.map(Extent.init)
            let old = snapshot.replacesCommitted ? [] : snapshot.extents
            var (merged, freed) = ExtentSplice.splice(old: old, new: newExtents, size: snapshot.size)
            let records = merged.map(\.record)
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
                                throw EngineError.catalog(
                                    "\(object.key) changed in the catalog under its writeback (row \(current?.id ?? -1), expected \(snapshot.committedID ?? -1))"
                                )
                            }
                        }
                    }
                }
                return ((commit.object, commit.replaced), commit.delta)
            }
            // A whole replacement frees whatever the catalog replaced; a splice, what it no longer references.
            if snapshot.replacesCommitted {
                freed = replaced.map(PhysicalRange.init)
            }
            pageCache.finishWriteback(snapshot, merged: merged, committedID: stored.record.id)
            deferredFree.retire(freed)
        } catch {
            allocator.free(writes.drain())
            pageCache.failWriteback(snapshot, error: error)
            logger.error("writeback failed; data stays dirty for a retry", metadata: ["key": "\(snapshot.object.key)", "error": "\(error)"])
            throw error
        }
    }

    /// Writes back every dirty object of a volume; the first error (including one from an earlier
    /// background writeback) is reported. A key held by a commit bypassing the cache (a DELETE
    /// that dropped an async write acknowledged before this flush) is waited for: the flush
    /// returns only once what replaced that write is durable.
    package func flushVolume(named name: String) throws(EngineError) {
        let volume = try volumeRecord(named: name)
        let keys = pageCache.keysToFlush(volumeID: volume.id!)
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
