// The read path below any cache: read whole checksum blocks of an extent from one replica,
// verify every block, fall back to the next replica on EIO, short reads or a checksum mismatch,
// count errors against the device. Knows nothing of pages or HTTP.
import Catalog
import Foundation
import Glibc
import Logging

extension Engine {
    static let readChunk = 256 << 10
    /// IO errors after which a device is taken out of service (reads go to other replicas,
    /// nothing new is allocated on it; the operator sees `failed`).
    static let deviceErrorThreshold: Int64 = 16

    /// Counts an IO error (EIO, short IO) against a device; past the threshold it is failed.
    func deviceIOError(_ id: String) {
        var total: Int64 = 0
        stats.device(id) {
            $0.ioErrors += 1
            total = $0.ioErrors
        }
        guard total >= Self.deviceErrorThreshold else { return }
        let actions = devices.fail(id: id, reason: "\(total) IO errors")
        guard !actions.isEmpty else { return }  // failed already
        logger.critical(
            "device failed after repeated IO errors; its data is served from other replicas", metadata: ["device": "\(id)", "errors": "\(total)"])
        carryOut(actions, device: id, placeMetadataNow: false)  // its copies and the catalog's re-created elsewhere
    }

    /// The one read of the IO layer: `length` bytes at `offsetInExtent` (both multiples of the
    /// checksum block, within the padded extent) of the copy `replica` of `extent`, into the
    /// aligned `buffer`, in `readChunk` ops of one ring batch (the device sees them in parallel),
    /// each checksum block verified. An IO error or a short read is counted against the device.
    /// `ring`: the caller's own ring, if it holds one (saves the pool's lock per read).
    func readReplica(
        _ extent: Extent, _ replica: PhysicalRange, offsetInExtent: Int64, length: Int, into buffer: UnsafeMutableRawBufferPointer,
        ring: Ring? = nil
    ) -> CopyRead {
        let block = Int(Extent.checksumBlock)
        precondition(offsetInExtent % Int64(block) == 0 && length % block == 0 && length <= buffer.count)
        guard let device = devices.device(id: replica.deviceID) else {
            return .missing(devices.failureReason(id: replica.deviceID) ?? "device \(replica.deviceID) is not open")
        }
        let operations = stride(from: 0, to: length, by: Self.readChunk).map { chunk in
            IOOperation.read(
                fd: device.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[chunk..<min(length, chunk + Self.readChunk)]),
                offset: replica.offset + offsetInExtent + Int64(chunk))
        }
        // The device (its fd) must outlive the reads, even if it is removed meanwhile.
        let results = withExtendedLifetime(device) { ring.map { $0.perform(operations) } ?? rings.withRing { $0.perform(operations) } }
        var total = 0
        for result in results {
            switch result {
            case .failure(let error):
                deviceIOError(replica.deviceID)
                return .failed("\(device.path) at \(replica.offset + offsetInExtent): \(Syscalls.describe(errno: error.errno))")
            case .success(let n):
                total += n
            }
        }
        guard total == length else {
            deviceIOError(replica.deviceID)
            return .failed("\(device.path) at \(replica.offset + offsetInExtent): short read (\(total) of \(length))")
        }
        let first = Int(offsetInExtent) / block
        let bad = (0..<length / block).filter { i in
            !extent.verifies(UnsafeRawBufferPointer(rebasing: buffer[i * block..<(i + 1) * block]), offsetInExtent: Int64((first + i) * block))
        }
        return .read(badBlocks: bad.map { first + $0 }, operations: operations.count)
    }

    /// Reads `length` bytes at `offsetInExtent` (both multiples of the checksum block, within the
    /// padded extent) into the aligned `buffer`, verified: from the first copy that serves them
    /// intact; the copies that did not are queued for repair once one did.
    func readExtentBlocks(
        _ extent: Extent, offsetInExtent: Int64, length: Int, into buffer: UnsafeMutableRawBufferPointer, key: String,
        ring: Ring? = nil
    ) throws(EngineError) {
        if extent.isInline {
            try readInline(extent, offsetInExtent: offsetInExtent, length: length, into: buffer, key: key)
            return
        }
        var failures: [String] = []
        var bad: [PhysicalRange] = []  // copies that failed, to repair once another served the read
        for replica in extent.replicas {
            let start = ContinuousClock.now
            switch readReplica(extent, replica, offsetInExtent: offsetInExtent, length: length, into: buffer, ring: ring) {
            case .missing:
                failures.append("\(replica.deviceID): device unavailable")
                continue
            case .failed(let reason):
                failures.append(reason)
                bad.append(replica)
                continue
            case .read(let badBlocks, _) where !badBlocks.isEmpty:
                stats.device(replica.deviceID) { $0.checksumErrors += 1 }
                let path = devices.device(id: replica.deviceID)?.path ?? replica.deviceID
                failures.append("\(path): checksum mismatch")
                logger.error(
                    "checksum mismatch; trying another replica",
                    metadata: ["key": "\(key)", "device": "\(path)", "offset": "\(replica.offset + offsetInExtent)"])
                bad.append(replica)
                continue
            case .read:
                break
            }
            stats.recordRead(device: replica.deviceID, bytes: Int64(length), since: start)
            // Read repair: the bad copies are mended in the background from this good one.
            for copy in bad { scrubber.scheduleRepair(self, copy) }
            return
        }
        throw .dataUnavailable(key: key, detail: failures.joined(separator: "; "))
    }
}

extension Engine {
    /// An inline extent's blocks: from the bytes at hand or its catalog row (the catalog's pages
    /// are checksummed and mirrored on its own copies; a row deleted since the extent was looked up
    /// has its bytes kept for the readers pinned before), zero-padded, each block verified against
    /// the extent's checksums. Bytes found nowhere are unavailable, never another version's.
    func readInline(
        _ extent: Extent, offsetInExtent: Int64, length: Int, into buffer: UnsafeMutableRawBufferPointer, key: String
    ) throws(EngineError) {
        let block = Int(Extent.checksumBlock)
        precondition(offsetInExtent % Int64(block) == 0 && length % block == 0 && length <= buffer.count)
        let body: Data
        if let held = extent.body {
            body = held
        } else if let id = extent.inlineID, let stored = try catalogCall({ try catalog.inlineBody(extentID: id) }) {
            body = stored
        } else {
            throw .dataUnavailable(key: key, detail: "the version being read was replaced or deleted meanwhile; read it again")
        }
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
        target.initializeMemory(as: UInt8.self, repeating: 0)
        let start = Int(offsetInExtent)
        if start < body.count {
            let n = min(length, body.count - start)
            body.withUnsafeBytes {
                UnsafeMutableRawBufferPointer(rebasing: target[0..<n]).copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + n]))
            }
        }
        guard extent.verifies(UnsafeRawBufferPointer(target), offsetInExtent: offsetInExtent) else {
            logger.error("checksum mismatch in an inline object's catalog row", metadata: ["key": "\(key)", "row": "\(extent.inlineID ?? -1)"])
            throw .dataUnavailable(key: key, detail: "the catalog's copy of its bytes does not match their checksum")
        }
    }
}

/// What reading one copy (or part of one) found.
enum CopyRead {
    /// Its device is not open (failed, or missing at start).
    case missing(String)
    /// The device answered with an error or a short read.
    case failed(String)
    /// Read; the indexes (in the extent) of the checksum blocks that do not match (empty:
    /// intact), and how many ops it took.
    case read(badBlocks: [Int], operations: Int)

    var isBad: Bool {
        switch self {
        case .missing, .failed: true
        case .read(let bad, _): !bad.isEmpty
        }
    }
}
