// The read path below any cache: read whole checksum blocks of an extent from one replica,
// verify every block, fall back to the next replica on EIO, short reads or a checksum mismatch,
// count errors against the device. Knows nothing of pages or HTTP.
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

    /// Reads `length` bytes at `offsetInExtent` (both multiples of the checksum block, within the
    /// padded extent) into the aligned `buffer`, verified.
    /// `ring`: the caller's own ring, if it holds one (saves the pool's lock per read).
    func readExtentBlocks(
        _ extent: Extent, offsetInExtent: Int64, length: Int, into buffer: UnsafeMutableRawBufferPointer, key: String,
        ring: Ring? = nil
    ) throws(EngineError) {
        let block = Int(Extent.checksumBlock)
        precondition(offsetInExtent % Int64(block) == 0 && length % block == 0 && length <= buffer.count)
        var failures: [String] = []
        var bad: [PhysicalRange] = []  // copies that failed, to repair once another served the read
        for replica in extent.replicas {
            guard let device = devices.device(id: replica.deviceID) else {
                failures.append("\(replica.deviceID): device unavailable")
                continue
            }
            // Large reads go out as several ops in one batch, so the device sees them in parallel.
            let operations = stride(from: 0, to: length, by: Self.readChunk).map { chunk in
                IOOperation.read(
                    fd: device.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[chunk..<min(length, chunk + Self.readChunk)]),
                    offset: replica.offset + offsetInExtent + Int64(chunk))
            }
            let start = ContinuousClock.now
            // The device (its fd) must outlive the reads, even if it is removed meanwhile.
            let results = withExtendedLifetime(device) { ring.map { $0.perform(operations) } ?? rings.withRing { $0.perform(operations) } }
            let result: IOResult = results.reduce(.success(0)) { total, next in
                switch (total, next) {
                case (.success(let a), .success(let b)): .success(a + b)
                case (.failure(let error), _), (_, .failure(let error)): .failure(error)
                }
            }
            switch result {
            case .failure(let error):
                deviceIOError(replica.deviceID)
                failures.append("\(device.path): \(Syscalls.describe(errno: error.errno))")
                bad.append(replica)
                continue
            case .success(let n) where n != length:
                deviceIOError(replica.deviceID)
                failures.append("\(device.path): short read (\(n) of \(length))")
                bad.append(replica)
                continue
            case .success:
                break
            }
            guard extent.verifies(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), offsetInExtent: offsetInExtent) else {
                stats.device(replica.deviceID) { $0.checksumErrors += 1 }
                failures.append("\(device.path): checksum mismatch")
                logger.error(
                    "checksum mismatch; trying another replica",
                    metadata: ["key": "\(key)", "device": "\(device.path)", "offset": "\(replica.offset + offsetInExtent)"])
                bad.append(replica)
                continue
            }
            stats.recordRead(device: replica.deviceID, bytes: Int64(length), since: start)
            // Read repair: the bad copies are mended in the background from this good one.
            for copy in bad { scrubber.scheduleRepair(self, copy) }
            return
        }
        throw .dataUnavailable(key: key, detail: failures.joined(separator: "; "))
    }
}
