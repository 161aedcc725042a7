// Extent writes kept in flight while the caller prepares the next buffer: each submitted buffer is
// written (all replicas, `writeExtents`) on a thread of its own, up to `depth` at once, and the
// results are taken back in submission order, so extents stay in logical order. Used by direct
// uploads (filled from the network) and by writeback (filled from cached pages).
import Catalog
import Foundation

final class ExtentWriteQueue {
    private let engine: Engine
    private let replicas: Int
    private let volume: String
    private let bufferBytes: Int
    private let depth: Int
    private var inFlight: [Pending] = []
    private var spares: [AlignedBuffer] = []

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

    /// The outcome of one write, handed back by the thread that performed it.
    private final class Pending: @unchecked Sendable {
        // @unchecked: written by the worker before `done` is signalled, read after waiting on it.
        let done = DispatchSemaphore(value: 0)
        let buffer: AlignedBuffer
        let logicalOffset: Int64
        let stage: Bool
        var extents: [NewExtent] = []
        var allocated: [PhysicalRange] = []
        var pages: [Page] = []
        var error: EngineError?
        init(buffer: AlignedBuffer, logicalOffset: Int64, stage: Bool) {
            self.buffer = buffer
            self.logicalOffset = logicalOffset
            self.stage = stage
        }
    }

    /// A buffer to fill for the next `submit`: one a settled write gave back, or a new one.
    func buffer() -> AlignedBuffer { spares.popLast() ?? AlignedBuffer(count: bufferBytes, zeroed: false) }

    /// Starts writing the first `length` bytes of `buffer` at `logicalOffset`, after waiting for
    /// the oldest write when `depth` are in flight. With `stage`, the written bytes are also copied
    /// into page frames for the cache (WriteThrough.swift). `last`: nothing follows to overlap
    /// with, so the write runs on the calling thread (no thread started for a small writeback).
    /// Throws the first failed write's error.
    func submit(_ buffer: AlignedBuffer, length: Int, logicalOffset: Int64, stage: Bool = false, last: Bool = false) throws(EngineError) {
        try settle(keeping: depth - 1)
        let pending = Pending(buffer: buffer, logicalOffset: logicalOffset, stage: stage)
        let (engine, replicas, volume) = (engine, replicas, volume)
        let write: @Sendable () -> Void = {
            do throws(EngineError) {
                pending.extents = try engine.writeExtents(
                    pending.buffer, length: length, logicalOffset: logicalOffset, replicas: replicas, volume: volume,
                    allocated: &pending.allocated)
                if pending.stage { pending.pages = engine.stageWritten(pending.buffer, length: length) }
            } catch {
                pending.error = error
            }
            pending.done.signal()
        }
        inFlight.append(pending)
        // Otherwise a thread of its own (not a width-limited dispatch queue): it blocks on the disk.
        if last { write() } else { Thread.detachNewThread(write) }
    }

    /// Waits for every write in flight; throws the first error.
    func finish() throws(EngineError) { try settle(keeping: 0) }

    /// Waits for the oldest writes until at most `keeping` are in flight, taking over their
    /// extents, allocations, staged pages and buffers. Every one of them is waited for and
    /// accounted even when one failed; then the first error is thrown.
    private func settle(keeping: Int) throws(EngineError) {
        var failure: EngineError?
        while inFlight.count > keeping {
            let pending = inFlight.removeFirst()
            pending.done.wait()
            allocated += pending.allocated
            spares.append(pending.buffer)
            if let error = pending.error, failure == nil { failure = error }
            extents += pending.extents
            if !pending.pages.isEmpty {
                staged[pending.logicalOffset / Int64(PageState.pageSize)] = pending.pages
                stagedCount += pending.pages.count
            } else if pending.stage {
                stagingRefused = true
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
        try? settle(keeping: 0)
        defer { allocated = [] }
        return allocated
    }
}
