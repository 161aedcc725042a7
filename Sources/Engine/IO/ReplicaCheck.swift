// One physical copy of an extent read whole from its device and checked block by block against
// the extent's crc32c: what `appliance check --verify-data`, a scrub and a repair ask of every copy.
import Foundation

/// What reading one copy found.
enum CopyRead {
    /// Its device is not open (failed, or missing at start).
    case missing(String)
    /// The device answered with an error or a short read.
    case failed(String)
    /// Read whole; the indexes of the checksum blocks that do not match (empty: intact).
    case read(badBlocks: [Int])
}

extension Engine {
    /// Reads `replica` (the whole padded extent) into `buffer` and verifies every block. Errors
    /// and bad blocks are counted against the device as a read's would be.
    func readCopy(_ extent: Extent, _ replica: PhysicalRange, into buffer: AlignedBuffer) -> CopyRead {
        guard let device = devices.device(id: replica.deviceID) else {
            return .missing(devices.failureReason(id: replica.deviceID) ?? "device \(replica.deviceID) is not open")
        }
        let block = Int(Extent.checksumBlock)
        let padded = extent.checksums.count * block
        precondition(padded <= buffer.count, "a \(padded)-byte extent does not fit a \(buffer.count)-byte buffer")
        let operations = stride(from: 0, to: padded, by: Self.readChunk).map { start in
            IOOperation.read(
                fd: device.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[start..<min(padded, start + Self.readChunk)]),
                offset: replica.offset + Int64(start))
        }
        let results = withExtendedLifetime(device) { rings.withRing { $0.perform(operations) } }
        var total = 0
        for result in results {
            switch result {
            case .failure(let error):
                deviceIOError(replica.deviceID)
                return .failed("\(device.path) at \(replica.offset): \(Syscalls.describe(errno: error.errno))")
            case .success(let n):
                total += n
            }
        }
        guard total == padded else {
            deviceIOError(replica.deviceID)
            return .failed("\(device.path) at \(replica.offset): short read (\(total) of \(padded))")
        }
        stats.device(replica.deviceID) {
            $0.bytesRead += Int64(padded)
            $0.readOps += Int64(operations.count)
        }
        let bad = (0..<extent.checksums.count).filter { i in
            !extent.verifies(UnsafeRawBufferPointer(rebasing: buffer.bytes[i * block..<(i + 1) * block]), offsetInExtent: Int64(i * block))
        }
        if !bad.isEmpty { stats.device(replica.deviceID) { $0.checksumErrors += Int64(bad.count) } }
        return .read(badBlocks: bad)
    }

    /// Nil when every block of `replica` verifies; otherwise what is wrong with it.
    func checkReplica(_ extent: Extent, _ replica: PhysicalRange) -> String? {
        let buffer = AlignedBuffer(count: max(extent.checksums.count, 1) * Int(Extent.checksumBlock))
        switch withExtendedLifetime(buffer, { readCopy(extent, replica, into: buffer) }) {
        case .missing(let reason), .failed(let reason):
            return reason
        case .read(let bad) where bad.isEmpty:
            return nil
        case .read(let bad):
            let path = devices.device(id: replica.deviceID)?.path ?? replica.deviceID
            return "\(path): \(bad.count) block(s) fail their checksum, first at extent offset \(Int64(bad[0]) * Extent.checksumBlock)"
        }
    }
}
