import Catalog
import Dispatch
import Foundation
// Buffered reads (fs-io-buffered's read path): copy from cached pages; on a miss, read a run of
// pages (more when the access is sequential: read-ahead) from the committed extents through the
// read path, insert them clean, and copy. Only a miss pins the committed version while it reads
// (a cache hit takes one lock); a writeback that commits meanwhile makes the fill read again.
import Logging
import Synchronization

package final class BufferedReader: @unchecked Sendable {
    // @unchecked: a download is driven by one thread at a time.
    /// Pages fetched on a sequential miss (2 MiB): read-ahead.
    static let readAheadPages = 512
    /// Sequential reads of objects that bypass the cache fetch this much at a time (2 MiB).
    static let streamWindowPages = 512

    package let info: ObjectInfo
    private let engine: Engine
    private let key: CacheKey
    private let object: CachedObject
    private var closed = false
    private var lastEnd: Int64 = 0
    /// Reported to the stats once, at close.
    private var bytesRead: Int64 = 0
    /// Reused for every miss of this reader (a fresh 2 MiB allocation per miss costs page faults).
    private var fillBuffer: AlignedBuffer?
    /// Objects too large for the cache stream through this private window instead of filling it.
    private var window: (first: Int64, pages: Int, buffer: AlignedBuffer)?

    init(engine: Engine, key: CacheKey, object: CachedObject, info: ObjectInfo) {
        self.engine = engine
        self.key = key
        self.object = object
        self.info = info
    }

    deinit { close() }

    package func read(at offset: Int64, into destination: UnsafeMutableRawBufferPointer) throws(EngineError) -> Int {
        let total = Int(min(Int64(destination.count), max(0, info.size - offset)))
        guard total > 0 else { return 0 }
        let sequential = offset == lastEnd
        lastEnd = offset + Int64(total)
        let pageSize = Int64(PageState.pageSize)
        var copied = 0
        while copied < total {
            let position = offset + Int64(copied)
            // Copy every cached page from `position`; stop at the first miss.
            guard let index = engine.pageCache.copyCached(object, offset: offset, total: total, into: destination, copied: &copied) else { break }
            let wanted = (position + Int64(total - copied) + pageSize - 1) / pageSize - index
            let pages = Int(max(wanted, sequential ? Int64(Self.readAheadPages) : 1))
            if info.size > engine.readBypassThreshold {
                let windowPages = sequential ? max(pages, Self.streamWindowPages) : pages
                copied += try readThroughWindow(
                    at: position, count: total - copied, into: destination, at: copied, firstPage: index, pages: windowPages)
            } else {
                try fill(from: index, pages: pages)
            }
        }
        bytesRead += Int64(copied)
        return copied
    }

    /// Pins `length` bytes from `offset` for a send without copying, when every page of the range
    /// is cached and they lie in at most `maxSegments` runs of memory; nil (and nothing pinned)
    /// otherwise. Counts as a read of those bytes.
    package func pin(at offset: Int64, length: Int64, maxSegments: Int) -> PinnedPages? {
        guard length > 0, offset >= 0, offset + length <= info.size else { return nil }
        let pageSize = Int64(PageState.pageSize)
        let first = offset / pageSize
        let last = (offset + length - 1) / pageSize
        let pinned = engine.pageCache.pin(
            object, pages: first, last, offset: Int(offset - first * pageSize), length: length, maxSegments: maxSegments)
        if pinned != nil { bytesRead += length }
        return pinned
    }

    /// A window being read ahead on a worker thread.
    private final class Prefetch: @unchecked Sendable {
        // @unchecked: the worker writes `error` and the buffer before signalling `done`.
        let done = DispatchSemaphore(value: 0)
        let first: Int64
        let buffer: AlignedBuffer
        var error: EngineError?
        init(first: Int64, buffer: AlignedBuffer) {
            self.first = first
            self.buffer = buffer
        }
    }

    private var prefetch: Prefetch?

    /// Reads `buffer.count` bytes of the committed version from page `first` (pinned meanwhile).
    private static func readWindow(engine: Engine, object: CachedObject, key: String, first: Int64, into buffer: AlignedBuffer) throws(EngineError) {
        let epoch = engine.deferredFree.pin()
        defer { engine.deferredFree.unpin(epoch) }
        let (extents, committedSize) = engine.pageCache.committedVersion(object)
        try engine.readCommitted(
            extents: extents, committedSize: committedSize, from: first * Int64(PageState.pageSize), into: buffer.bytes, key: key)
    }

    /// Copies from the private window (refilling it from disk), for objects that bypass the cache.
    /// A sequential reader gets the next window read ahead while it sends this one.
    private func readThroughWindow(
        at position: Int64, count: Int, into destination: UnsafeMutableRawBufferPointer, at offset: Int, firstPage: Int64, pages: Int
    ) throws(EngineError) -> Int {
        let pageSize = Int64(PageState.pageSize)
        if window == nil || position < window!.first * pageSize || position >= (window!.first + Int64(window!.pages)) * pageSize {
            var spare = window?.buffer
            if let pending = prefetch {
                pending.done.wait()
                prefetch = nil
                if pending.first == firstPage, pending.error == nil {
                    window = (firstPage, pending.buffer.count / PageState.pageSize, pending.buffer)
                } else {
                    spare = pending.buffer
                }
            }
            if window == nil || window!.first != firstPage {
                let buffer =
                    spare.flatMap { $0.count >= pages * PageState.pageSize ? $0 : nil }
                    ?? AlignedBuffer(count: pages * PageState.pageSize, zeroed: false)
                try Self.readWindow(engine: engine, object: object, key: info.key, first: firstPage, into: buffer)
                spare = window?.buffer
                window = (firstPage, buffer.count / PageState.pageSize, buffer)
            }
            let next = window!.first + Int64(window!.pages)
            if next * pageSize < info.size, pages >= Self.streamWindowPages {
                let ahead = Prefetch(
                    first: next,
                    buffer: spare.flatMap { $0.count == window!.buffer.count ? $0 : nil }
                        ?? AlignedBuffer(count: window!.buffer.count, zeroed: false))
                let (engine, object, key) = (engine, object, info.key)
                engine.workers.run {
                    do throws(EngineError) {
                        try Self.readWindow(engine: engine, object: object, key: key, first: ahead.first, into: ahead.buffer)
                    } catch {
                        ahead.error = error
                    }
                    ahead.done.signal()
                }
                prefetch = ahead
            }
        }
        let (first, windowPages, buffer) = window!
        let from = Int(position - first * pageSize)
        // Only up to the end of this page: the next one may be cached (and dirty).
        let n = min(count, windowPages * PageState.pageSize - from, PageState.pageSize - Int(position % pageSize))
        UnsafeMutableRawBufferPointer(rebasing: destination[offset..<offset + n])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer.bytes[from..<from + n]))
        return n
    }

    /// Reads up to `count` uncached pages from `first` from the committed version and inserts them.
    private func fill(from first: Int64, pages count: Int) throws(EngineError) {
        let pageSize = Int64(PageState.pageSize)
        // Pinned before the extents are read, so a commit that replaces them cannot free them
        // while this fill reads (it either happened before the snapshot, or waits for the unpin).
        let epoch = engine.deferredFree.pin()
        defer { engine.deferredFree.unpin(epoch) }
        let plan = engine.pageCache.planFill(object, from: first, pages: count)
        let run = plan.pages
        if (fillBuffer?.count ?? 0) < run * PageState.pageSize { fillBuffer = AlignedBuffer(count: run * PageState.pageSize, zeroed: false) }
        let buffer = fillBuffer!
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<run * PageState.pageSize])
        if plan.replaced {
            // A hole of a whole replacement (a PATCH past its end): zeros, not what the reused
            // buffer held from an earlier fill (once another key's bytes, written back as this one's).
            target.initializeMemory(as: UInt8.self, repeating: 0)
        } else {
            try engine.readCommitted(extents: plan.extents, committedSize: plan.committedSize, from: first * pageSize, into: target, key: info.key)
        }
        engine.pageCache.installFill(object, key: key, from: first, plan, buffer: UnsafeRawBufferPointer(buffer.bytes))
    }

    package func close() {
        guard !closed else { return }
        closed = true
        prefetch?.done.wait()  // The worker must be done with its buffer.
        prefetch = nil
        engine.stats.recordObjectRead(volume: object.volumeName, mode: "buffered", bytes: bytesRead)
    }
}

extension Engine {
    /// Opens an object for a buffered read: the cached version (dirty data included), filled from
    /// the committed extents on misses.
    package func openBuffered(volume name: String, key: String) throws(EngineError) -> BufferedReader {
        try Self.validate(key: key)
        let volume = try volumeRecord(named: name)
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        guard let (object, info) = try pageCache.openForRead(cacheKey, load: cacheLoader(volume, key: key)) else {
            throw .objectNotFound(volume: name, key: key)
        }
        return BufferedReader(engine: self, key: cacheKey, object: object, info: info)
    }

    /// `openBuffered` from memory alone: the volume's row and the key's entry are cached (no
    /// catalog read, which an event loop must not wait for). nil when it would need the catalog,
    /// or a bypassing commit holds the key.
    package func openBufferedIfCached(volume name: String, key: String) throws(EngineError) -> BufferedReader? {
        try Self.validate(key: key)
        guard let volume = volumeRecords.withLock({ $0[name] }) else { return nil }
        let cacheKey = CacheKey(volumeID: volume.id!, key: key)
        let found = try pageCache.cachedForRead(cacheKey, notFound: .objectNotFound(volume: name, key: key))
        return found.map { BufferedReader(engine: self, key: cacheKey, object: $0.0, info: $0.1) }
    }
}
