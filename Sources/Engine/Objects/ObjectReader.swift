// One open version of an object: its extents as of the moment it was opened (pinned, so a
// concurrent overwrite cannot free them underneath), read in order through a verified window.
import Catalog

package final class ObjectReader: @unchecked Sendable {
    // @unchecked: a download is driven by one thread at a time.
    package static let windowBytes = 2 << 20

    package let info: ObjectInfo
    /// The catalog row read.
    let rowID: Int64
    private let engine: Engine
    private let extents: [Extent]
    private let volume: String
    private let epoch: UInt64
    private var closed = false
    /// A ring held for the reader's life (one thread reads at a time).
    private var ring: Ring?
    private lazy var window = AlignedBuffer(count: Self.windowBytes, zeroed: false)
    /// What `window` holds: extent index, offset in extent, valid length.
    private var windowContent: (extent: Int, offset: Int64, length: Int)?
    /// Where the previous read ended: a read starting there is sequential and gets a full window
    /// (read-ahead); any other read fetches only the blocks it needs.
    private var lastEnd: Int64 = 0
    /// Reported to the stats once, at close (keeps locks off the per-read path).
    private var bytesRead: Int64 = 0

    init(engine: Engine, volume: String, object: StoredObject, epoch: UInt64) {
        self.engine = engine
        self.volume = volume
        self.epoch = epoch
        info = ObjectInfo(object.record)
        rowID = object.record.id!
        extents = object.extents.map(Extent.init)
    }

    deinit { close() }

    /// Fills `into` with the object's bytes at `offset`; returns how many (0 at the end).
    package func read(at offset: Int64, into destination: UnsafeMutableRawBufferPointer) throws(EngineError) -> Int {
        let length = Int(min(Int64(destination.count), max(0, info.size - offset)))
        guard length > 0 else { return 0 }
        let sequential = offset == lastEnd
        lastEnd = offset + Int64(length)
        var copied = 0
        for piece in ExtentWalk(extents: extents, offset: offset, length: Int64(length)) {
            switch piece {
            case .hole(let n):
                UnsafeMutableRawBufferPointer(rebasing: destination[copied..<copied + Int(n)]).initializeMemory(as: UInt8.self, repeating: 0)
                copied += Int(n)
            case .mapped(let index, let offsetInExtent, let n):
                var position = offsetInExtent
                let end = offsetInExtent + n
                while position < end {
                    let (start, valid) = try load(extent: index, covering: position, wanting: sequential ? Int64(Self.windowBytes) : end - position)
                    let take = Int(min(end, start + Int64(valid)) - position)
                    let from = Int(position - start)
                    UnsafeMutableRawBufferPointer(rebasing: destination[copied..<copied + take])
                        .copyMemory(from: UnsafeRawBufferPointer(rebasing: window.bytes[from..<from + take]))
                    copied += take
                    position += Int64(take)
                }
            }
        }
        bytesRead += Int64(copied)
        return copied
    }

    /// Makes the window hold the block-aligned stretch of extent `index` from the block containing
    /// `offset`, at least `wanting` bytes of it (up to the window size).
    private func load(extent index: Int, covering offset: Int64, wanting: Int64) throws(EngineError) -> (start: Int64, valid: Int) {
        if let content = windowContent, content.extent == index, content.offset <= offset, offset < content.offset + Int64(content.length) {
            return (content.offset, content.length)
        }
        let extent = extents[index]
        let block = Extent.checksumBlock
        let start = offset / block * block
        let padded = (extent.length + block - 1) / block * block
        let wanted = (offset - start + wanting + block - 1) / block * block
        var length = Int(min(Int64(Self.windowBytes), padded - start, wanted))
        windowContent = nil
        if ring == nil { ring = engine.rings.take() }
        do {
            try engine.readExtentBlocks(extent, offsetInExtent: start, length: length, into: window.bytes, key: info.key, ring: ring)
        } catch .dataUnavailable where length > Int(block) {
            // A block no copy holds intact fails only the reads that need it: fall back to the one
            // block at `offset`, so the rest of the object is still served.
            length = Int(block)
            try engine.readExtentBlocks(extent, offsetInExtent: start, length: length, into: window.bytes, key: info.key, ring: ring)
        }
        let valid = Int(min(Int64(length), extent.length - start))
        windowContent = (index, start, valid)
        return (start, valid)
    }

    /// Reads `count` independent ranges with up to `depth` of them in flight at once on this
    /// reader's ring, all driven by the calling thread (how fio keeps a queue depth; a thread per
    /// outstanding read costs a context switch per IO). `range(i)` gives read i's offset and
    /// destination; it is asked in order, as a slot frees up, so planning overlaps the reads in
    /// flight (planning all of them first left the device idle meanwhile). `done(i, bytes)`
    /// reports a read verified, in completion order. A range that is whole checksum blocks of one
    /// extent goes out as one op to its first available replica; a failed or mismatching read, and
    /// any other range, take the ordinary path (replica fallback) after the others.
    package func readMany(
        count: Int, depth: Int, range: (Int) -> (offset: Int64, into: UnsafeMutableRawBufferPointer),
        done: (Int, Result<Int, EngineError>) -> Void
    ) {
        let block = Extent.checksumBlock
        typealias Request = (index: Int, offset: Int64, buffer: UnsafeMutableRawBufferPointer)
        /// The reads that went out as one op each, by op number: the request (number, offset and
        /// buffer), its extent and offset in it, the replica's device (its tally slot), and when it
        /// was submitted.
        var issued: [(request: Request, extent: Int, offsetInExtent: Int64, slot: Int, started: ContinuousClock.Instant)] = []
        issued.reserveCapacity(count)
        var fallback: [Request] = []
        var tally = ReadTally()
        /// Per extent, looked up once: the first replica whose device is open, the device (held
        /// while its fd is in use) and its tally slot.
        var sources = [(offset: Int64, device: Device, slot: Int)?](repeating: nil, count: extents.count)
        var looked = [Bool](repeating: false, count: extents.count)
        var next = 0
        if ring == nil { ring = engine.rings.take() }
        ring!.stream(
            depth: depth,
            next: { _ in
                while next < count {
                    let i = next
                    next += 1
                    let (offset, buffer) = range(i)
                    guard offset % block == 0, buffer.count % Int(block) == 0, buffer.count > 0, offset + Int64(buffer.count) <= info.size,
                        let first = ExtentWalk(extents: extents, offset: offset, length: Int64(buffer.count)).first(where: { _ in true }),
                        case .mapped(let index, let offsetInExtent, let n) = first, n == Int64(buffer.count)
                    else {
                        fallback.append((i, offset, buffer))
                        continue
                    }
                    if !looked[index] {
                        looked[index] = true
                        if let (replica, device) = extents[index].replicas.lazy.compactMap({ r in
                            self.engine.devices.device(id: r.deviceID).map { (r, $0) }
                        }).first {
                            sources[index] = (replica.offset, device, tally.slot(replica.deviceID))
                        }
                    }
                    guard let source = sources[index] else {
                        fallback.append((i, offset, buffer))
                        continue
                    }
                    issued.append(((i, offset, buffer), index, offsetInExtent, source.slot, .now))
                    return .operation(.read(fd: source.device.fd, buffer: buffer, offset: source.offset + offsetInExtent))
                }
                return .end
            },
            complete: { k, result in
                let (request, index, offsetInExtent, slot, started) = issued[k]
                let buffer = request.buffer
                guard case .success(let n) = result, n == buffer.count else {
                    engine.deviceIOError(tally.devices[slot].id)
                    fallback.append(request)
                    return
                }
                guard extents[index].verifies(UnsafeRawBufferPointer(buffer), offsetInExtent: offsetInExtent) else {
                    engine.stats.device(tally.devices[slot].id) { $0.checksumErrors += 1 }
                    fallback.append(request)
                    return
                }
                tally.read(slot: slot, bytes: n, since: started)
                bytesRead += Int64(n)
                done(request.index, .success(n))
            })
        engine.stats.record(tally)
        for (i, offset, buffer) in fallback {
            do throws(EngineError) {
                var filled = 0
                while filled < buffer.count {
                    let n = try read(at: offset + Int64(filled), into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
                    if n == 0 { break }
                    filled += n
                }
                done(i, .success(filled))
            } catch {
                done(i, .failure(error))
            }
        }
    }

    /// Unpins the version (its space may now be freed if it was replaced). Idempotent.
    package func close() {
        guard !closed else { return }
        closed = true
        if let ring {
            engine.rings.give(ring)
            self.ring = nil
        }
        engine.deferredFree.unpin(epoch)
        engine.stats.recordObjectRead(volume: volume, mode: "direct", bytes: bytesRead)
    }
}
