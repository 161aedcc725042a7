// Extent writes kept in flight while the caller prepares the next buffer: each submitted buffer is
// planned on the caller's thread (allocation, checksums), queued on a WriteStream that writes every
// replica, up to `depth` buffers at once, and copied for write-through while it is written; results
// are taken back in submission order, so extents stay in logical order. Used by direct uploads (filled from the
// network) and by writeback (filled from cached pages).
import Catalog
import Foundation

final class ExtentWriteQueue {
    /// 1 MiB operations kept in flight per replica (fio's sequential write in the benchmark: QD 8).
    static let ioDepth = 8

    private let engine: Engine
    private let replicas: Int
    private let volume: String
    private let bufferBytes: Int
    private let depth: Int
    private var inFlight: [WriteJob] = []
    private var spares: [AlignedBuffer] = []
    /// Started by the first write that has a successor to overlap with; closed by `finish`/`drain`.
    private var stream: WriteStream?

    /// Extents written so far, in logical order (of settled writes).
    private(set) var extents: [NewExtent] = []
    /// Every range allocated by settled writes: freed by the caller if it gives up.
    private(set) var allocated: [PhysicalRange] = []
    /// Write-through copies of settled writes' pages, by first page index.
    private(set) var staged: [Int64: [Page]] = [:]
    private(set) var stagedCount = 0
    /// A write asked to stage its pages and the cache had no room.
    private(set) var stagingRefused = false

    init(engine: Engine, replicas: Int, volume: String, bufferBytes: Int, depth: Int) {
        self.engine = engine
        self.replicas = replicas
        self.volume = volume
        self.bufferBytes = bufferBytes
        self.depth = depth
    }

    deinit { stream?.close() }

    /// A buffer to fill for the next `submit`: one a settled write gave back, or a new one.
    func buffer() -> AlignedBuffer { spares.popLast() ?? AlignedBuffer(count: bufferBytes, zeroed: false) }

    /// Starts writing the first `length` bytes of `buffer` at `logicalOffset`, after waiting for
    /// the oldest write when `depth` are in flight. With `stage`, the bytes are also copied into
    /// page frames for the cache (WriteThrough.swift). `last`: nothing follows to overlap with, so
    /// without a stream running already the write runs on the calling thread (no thread started
    /// for a small writeback). Throws the first failed write's error.
    func submit(_ buffer: AlignedBuffer, length: Int, logicalOffset: Int64, stage: Bool = false, last: Bool = false) throws(EngineError) {
        try settle(keeping: depth - 1)
        let job = WriteJob(buffer: buffer, length: length, logicalOffset: logicalOffset)
        do throws(EngineError) {
            job.plan = try engine.planExtents(buffer, length: length, logicalOffset: logicalOffset, replicas: replicas, allocated: &job.allocated)
        } catch {
            allocated += job.allocated
            spares.append(buffer)
            throw error
        }
        inFlight.append(job)
        if last && stream == nil {
            job.writeHere(engine: engine, volume: volume)
        } else {
            if stream == nil { stream = WriteStream(engine: engine, volume: volume, depth: Self.ioDepth * replicas) }
            stream?.enqueue(job)
        }
        // The write-through copy is taken while the devices write the same (read-only) bytes.
        if stage {
            job.pages = engine.stageWritten(buffer, length: length)
            if job.pages.isEmpty { stagingRefused = true }
        }
    }

    /// Waits for every write in flight; throws the first error.
    func finish() throws(EngineError) {
        defer { closeStream() }
        try settle(keeping: 0)
    }

    private func closeStream() {
        stream?.close()
        stream = nil
    }

    /// Waits for the oldest writes until at most `keeping` are in flight, taking over their
    /// extents, allocations, staged pages and buffers. Every one of them is waited for and
    /// accounted even when one failed; then the first error is thrown.
    private func settle(keeping: Int) throws(EngineError) {
        var failure: EngineError?
        while inFlight.count > keeping {
            let job = inFlight.removeFirst()
            job.done.wait()
            allocated += job.allocated
            spares.append(job.buffer)
            if let error = job.error, failure == nil { failure = error }
            extents += job.plan.extents
            if !job.pages.isEmpty {  // Also after a failure: the caller unstages what was staged.
                staged[job.logicalOffset / Int64(PageState.pageSize)] = job.pages
                stagedCount += job.pages.count
            }
        }
        if let failure { throw failure }
    }

    /// Hands over the staged pages (the caller installs or unstages them).
    func takeStaged() -> (pages: [Int64: [Page]], count: Int) {
        defer { (staged, stagedCount) = ([:], 0) }
        return (staged, stagedCount)
    }

    /// After a failure: waits for what is still in flight (its buffers and allocations must be
    /// accounted) and hands back every allocated range, to be freed.
    func drain() -> [PhysicalRange] {
        defer { closeStream() }
        try? settle(keeping: 0)
        defer { allocated = [] }
        return allocated
    }
}
