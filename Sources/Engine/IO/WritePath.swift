// The write path below any cache: allocate → write every replica through io_uring → (later)
// make durable. It works on buffers and extents only; committing to the catalog is the caller's
// step, after `makeDurable`. Knows nothing of pages or HTTP.
import Catalog
import Foundation
import Glibc

extension Engine {
    static let writeChunk = 1 << 20

    /// One buffer's extents, planned: space allocated for every replica, checksums taken, and the
    /// writes of every replica in 1 MiB ops (a queue streams them: ExtentWriteQueue).
    struct PlannedWrite {
        var extents: [NewExtent] = []
        var operations: [IOOperation] = []
        /// Per operation: the device it writes and the bytes it must write.
        var targets: [WriteTarget] = []
    }

    struct WriteTarget {
        let deviceID: String
        /// Held until the write completes: its fd stays open (a device removed meanwhile closes
        /// it only when the last reference goes, so the number can never be reused under us).
        let device: Device
        let expected: Int
    }

    /// Plans the first `length` bytes of `buffer` (zero-padded to the allocation unit in place) as
    /// one or more extents with `replicas` copies each. Every range it allocates is appended to
    /// `allocated` before anything is written, so the caller can free them if anything fails.
    func planExtents(
        _ buffer: AlignedBuffer, length: Int, logicalOffset: Int64, replicas: Int, allocated: inout [PhysicalRange]
    ) throws(EngineError) -> PlannedWrite {
        let unit = Int(Allocator.unit)
        let padded = (length + unit - 1) / unit * unit
        precondition(padded <= buffer.count, "extent of \(length) bytes does not fit its buffer")
        let bytes = buffer.bytes
        if padded > length {
            UnsafeMutableRawBufferPointer(rebasing: bytes[length..<padded]).initializeMemory(as: UInt8.self, repeating: 0)
        }
        let block = Int(Extent.checksumBlock)
        let checksums = Extent.checksums(of: UnsafeRawBufferPointer(rebasing: bytes[0..<padded]))
        var plan = PlannedWrite()
        var done = 0
        while done < padded {
            guard let ranges = allocator.allocate(length: Int64(padded - done), replicas: replicas) else {
                throw .noSpace(.pool, needed: Int64(padded - done) * Int64(replicas), available: 0)
            }
            allocated += ranges
            let piece = Int(ranges[0].length)
            for range in ranges {
                for (operation, target) in try writeOperations(UnsafeRawBufferPointer(rebasing: bytes[done..<done + piece]), to: range) {
                    plan.operations.append(operation)
                    plan.targets.append(target)
                }
            }
            plan.extents.append(
                NewExtent(
                    logicalOffset: logicalOffset + Int64(done), length: Int64(min(piece, length - done)),
                    checksumBlock: Extent.checksumBlock, checksums: Extent.encodeChecksums(Array(checksums[done / block..<(done + piece) / block])),
                    replicas: ranges.map { ($0.deviceID, $0.offset, $0.length) }))
            done += piece
        }
        return plan
    }

    /// The writes of `bytes` to the copy at `range`, in `writeChunk` ops, each with what it must
    /// write (for `checkWrite`): the one way the IO layer turns a buffer and a place into writes.
    func writeOperations(_ bytes: UnsafeRawBufferPointer, to range: PhysicalRange) throws(EngineError) -> [(IOOperation, WriteTarget)] {
        guard let device = devices.device(id: range.deviceID) else { throw .io(call: "write", path: range.deviceID, errno: ENODEV) }
        return stride(from: 0, to: bytes.count, by: Self.writeChunk).map { chunk in
            let n = min(Self.writeChunk, bytes.count - chunk)
            return (
                .write(fd: device.fd, buffer: UnsafeRawBufferPointer(rebasing: bytes[chunk..<chunk + n]), offset: range.offset + Int64(chunk)),
                WriteTarget(deviceID: range.deviceID, device: device, expected: n)
            )
        }
    }

    /// Writes `bytes` to the copy at `range` now (one ring batch on the caller), every op checked:
    /// a new copy of an extent (repair, drain, rebuild). Not durable until `makeDurable`.
    func writeReplica(_ bytes: UnsafeRawBufferPointer, to range: PhysicalRange) throws(EngineError) {
        let writes = try writeOperations(bytes, to: range)
        let results = withExtendedLifetime(writes) { rings.withRing { $0.perform(writes.map(\.0)) } }
        for ((_, target), result) in zip(writes, results) {
            if let error = checkWrite(target, result) { throw error }
        }
    }

    /// Accounts one planned write's result against its device: nil when it wrote every byte,
    /// else the error (a short write is EIO), counted against the device.
    func checkWrite(_ target: WriteTarget, _ result: IOResult) -> EngineError? {
        switch result {
        case .success(let n) where n == target.expected:
            stats.device(target.deviceID) {
                $0.bytesWritten += Int64(n)
                $0.writeOps += 1
            }
            return nil
        case .success:
            deviceIOError(target.deviceID)
            return .io(call: "write (short)", path: target.device.path, errno: EIO)
        case .failure(let error) where WriteFence.isRefusal(error):
            return .fenced(reason: rings.fence.refusedBecause ?? "the lease was lost while writing")  // no fault of the device
        case .failure(let error):
            deviceIOError(target.deviceID)
            return .io(call: error.call, path: target.device.path, errno: error.errno)
        }
    }

    /// Flushes the given devices (fdatasync for files, fsync for block devices) in one batch.
    func makeDurable(_ deviceIDs: Set<String>) throws(EngineError) {
        if let error = makeDurableEach(deviceIDs).sorted(by: { $0.key < $1.key }).first?.value { throw error }
    }

    /// Flushes the given devices in one batch; returns the error of each device that failed.
    func makeDurableEach(_ deviceIDs: Set<String>) -> [String: EngineError] {
        var failed: [String: EngineError] = [:]
        var operations: [IOOperation] = []
        var targets: [(id: String, device: Device)] = []
        for id in deviceIDs.sorted() {
            guard let device = devices.device(id: id) else {
                failed[id] = .io(call: "fdatasync", path: id, errno: ENODEV)
                continue
            }
            targets.append((id, device))
            operations.append(device.kind == .file ? .fdatasync(fd: device.fd) : .fsync(fd: device.fd))
        }
        guard !operations.isEmpty else { return failed }
        let start = ContinuousClock.now
        let results = rings.flush(operations)
        stats.observe("sync", since: start)
        for (target, result) in zip(targets, results) {
            if case .failure(let error) = result {
                failed[target.id] = .io(call: error.call, path: target.device.path, errno: error.errno)
            }
        }
        return failed
    }
}
