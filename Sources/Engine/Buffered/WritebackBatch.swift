// Writeback of many small objects at once (the flusher's and a flush's helpers, `flushEach`): one
// thread takes a share of the dirty keys, writes the data of those that go to devices in one ring
// batch (the kernel merges adjacent writes), and commits them and those written into their catalog
// rows as one group (`GroupCommit.commitEach`: one flush per device, one transaction, one wait).
// One `flushObject` per key would wait for its own write and its own turn in a group, and wake
// threads for each. Larger objects, and objects leaving the catalog, take `flushObject`'s path.
import Catalog
import Foundation

extension Engine {
    /// Objects up to this size (one run of dirty pages) are written in the batch's ring batch, and
    /// the batch's buffers take at most `batchedBytesMax` (the rest take `flushObject`'s path).
    static let batchedWriteMax = 256 << 10
    static let batchedBytesMax = 1 << 20

    /// One object of a batch, ready to commit.
    private struct BatchedCommit {
        let index: Int
        let snapshot: PageCache.WritebackSnapshot
        let records: [NewExtent]
        let devices: Set<String>
        /// Written to devices: the spliced extent map, what the splice frees, what was allocated.
        /// Nil: inline (the records carry the bytes).
        let written: (merged: [Extent], freed: [PhysicalRange], allocated: [PhysicalRange])?
    }

    /// Writes back `keys` (each key once) and returns the errors by index. A key busy elsewhere
    /// is not waited for while this batch holds entries under writeback (another batch may hold
    /// this one's keys and wait for ours): it is written back last, on its own.
    func flushBatch(_ keys: ArraySlice<CacheKey>) -> [(Int, EngineError)] {
        var failures: [(Int, EngineError)] = []
        var ready: [BatchedCommit] = []
        var writes: [(index: Int, snapshot: PageCache.WritebackSnapshot, job: WriteJob)] = []
        var busy: [Int] = []
        var buffered = 0
        for i in keys.indices {
            do throws(EngineError) {
                switch try pageCache.tryBeginWriteback(keys[i]) {
                case .clean: break
                case .busy: busy.append(i)
                case .started(let snapshot):
                    if writesInline(snapshot) {
                        let extent = try writingBack(snapshot) { () throws(EngineError) in try inlineExtent(snapshot) }
                        ready.append(BatchedCommit(index: i, snapshot: snapshot, records: [extent.record], devices: [], written: nil))
                    } else if let job = try writingBack(snapshot, { () throws(EngineError) in try planBatchedWrite(snapshot, buffered: buffered) }) {
                        buffered += job.buffer.count
                        writes.append((i, snapshot, job))
                    } else {
                        try writingBack(snapshot) { () throws(EngineError) in try writeBackExtents(snapshot) }
                    }
                }
            } catch {
                failures.append((i, error))
            }
        }
        WriteJob.writeHere(writes.map { ($0.job, $0.snapshot.object.volumeName) }, engine: self)
        for (i, snapshot, job) in writes {
            if let error = job.error {
                allocator.free(job.allocated)
                failedWriteback(snapshot, error)
                failures.append((i, error))
                continue
            }
            let old = snapshot.replacesCommitted ? [] : snapshot.extents
            let (merged, freed) = ExtentSplice.splice(old: old, new: job.plan.extents.map(Extent.init), size: snapshot.size)
            ready.append(
                BatchedCommit(
                    index: i, snapshot: snapshot, records: merged.map(\.record), devices: Set(job.allocated.map(\.deviceID)),
                    written: (merged, freed, job.allocated)))
        }
        failures += commitBatched(ready)
        for i in busy {
            do throws(EngineError) { try flushObject(keys[i]) } catch { failures.append((i, error)) }
        }
        return failures
    }

    /// The write of a small object's one run of dirty pages to new extents, planned (space
    /// allocated, checksums taken) but not started; nil when the object takes `writeBackExtents`'
    /// path (several runs, larger, leaving the catalog, or past
    /// the batch's `batchedBytesMax` with the `buffered` bytes already planned).
    private func planBatchedWrite(_ snapshot: PageCache.WritebackSnapshot, buffered: Int) throws(EngineError) -> WriteJob? {
        guard snapshot.runs.count == 1, snapshot.runs[0].length <= Self.batchedWriteMax,
            snapshot.replacesCommitted || !snapshot.extents.contains(where: \.isInline)
        else { return nil }
        let run = snapshot.runs[0]
        let bytes = run.pages.count * PageState.pageSize
        guard buffered + bytes <= Self.batchedBytesMax else { return nil }
        let buffer = AlignedBuffer(count: bytes, zeroed: false)
        snapshot.copy(run: 0, into: buffer.bytes)
        let job = WriteJob(buffer: buffer, length: run.length, logicalOffset: run.start)
        do throws(EngineError) {
            job.plan = try planExtents(
                buffer, length: run.length, logicalOffset: run.start, replicas: Int(snapshot.object.replicas), allocated: &job.allocated)
        } catch {
            allocator.free(job.allocated)
            throw error
        }
        return job
    }

    /// Commits a batch in one `commitEach` (each object's commit a catalog call of its own: the
    /// fault hook is asked once for each), then finishes each as `flushObject` does; returns the
    /// failures by index.
    private func commitBatched(_ batch: [BatchedCommit]) -> [(Int, EngineError)] {
        guard !batch.isEmpty else { return [] }
        var results = [Result<ObjectCommit, EngineError>?](repeating: nil, count: batch.count)
        var queued: [Int] = []
        var changes: [(devices: Set<String>, change: (CatalogTransaction) throws -> ObjectCommit)] = []
        for (k, item) in batch.enumerated() {
            if let fault = injectedCatalogFault() {
                results[k] = .failure(fault)
                continue
            }
            queued.append(k)
            changes.append((item.devices, writebackChange(item.snapshot, extents: item.records)))
        }
        for (k, result) in zip(queued, groupCommit.commitEach(self, changes)) {
            let volume = batch[k].snapshot.object.volumeName
            results[k] = result.mapError { Self.engineError(fromCatalog: $0, notFound: .volumeNotFound(name: volume)) }
        }
        var failures: [(Int, EngineError)] = []
        for (item, result) in zip(batch, results) {
            switch result! {
            case .success(let commit):
                space.apply(commit.delta, releasing: reservation(of: item.snapshot))
                guard let written = item.written else {
                    finishInline(item.snapshot, commit)
                    continue
                }
                // A whole replacement frees whatever the catalog replaced; a splice, what it no longer references.
                let freed = item.snapshot.replacesCommitted ? commit.replaced.map(PhysicalRange.init) : written.freed
                pageCache.finishWriteback(
                    item.snapshot, merged: written.merged, committedID: commit.object.record.id, copies: item.snapshot.object.replicas,
                    reloadClean: false)
                deferredFree.retire(freed, inline: commit.replacedInline)
            case .failure(let error):
                if let written = item.written { allocator.free(written.allocated) }
                failedWriteback(item.snapshot, error)
                failures.append((item.index, error))
            }
        }
        return failures
    }
}
