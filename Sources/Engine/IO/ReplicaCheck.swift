// One physical copy of an extent read whole from its device and checked block by block against
// the extent's crc32c: what `appliance check --verify-data`, a scrub and a repair ask of every copy
// (and of an inline extent, whose one copy is its catalog row).
import Foundation

extension Engine {
    /// Reads `replica` (the whole padded extent) into `buffer` and verifies every block
    /// (`readReplica`, the IO layer's one read); counts it and its bad blocks on the device.
    func readCopy(_ extent: Extent, _ replica: PhysicalRange, into buffer: AlignedBuffer) -> CopyRead {
        let padded = extent.checksums.count * Int(Extent.checksumBlock)
        precondition(padded <= buffer.count, "a \(padded)-byte extent does not fit a \(buffer.count)-byte buffer")
        let read = readReplica(extent, replica, offsetInExtent: 0, length: padded, into: buffer.bytes)
        if case .read(let bad, let operations) = read {
            stats.device(replica.deviceID) {
                $0.bytesRead += Int64(padded)
                $0.readOps += Int64(operations)
                $0.checksumErrors += Int64(bad.count)
            }
        }
        return read
    }

    /// Nil when every block of `replica` verifies; otherwise what is wrong with it.
    func checkReplica(_ extent: Extent, _ replica: PhysicalRange) -> String? {
        let buffer = AlignedBuffer(count: max(extent.checksums.count, 1) * Int(Extent.checksumBlock))
        switch withExtendedLifetime(buffer, { readCopy(extent, replica, into: buffer) }) {
        case .missing(let reason), .failed(let reason):
            return reason
        case .read(let bad, _) where bad.isEmpty:
            return nil
        case .read(let bad, _):
            let path = devices.device(id: replica.deviceID)?.path ?? replica.deviceID
            return "\(path): \(bad.count) block(s) fail their checksum, first at extent offset \(Int64(bad[0]) * Extent.checksumBlock)"
        }
    }

    /// Nil when the inline extent's bytes (in its catalog row) match its checksums; otherwise why not.
    func checkInline(_ extent: Extent, key: String) -> String? {
        let buffer = AlignedBuffer(count: max(extent.checksums.count, 1) * Int(Extent.checksumBlock))
        do throws(EngineError) {
            try withExtendedLifetime(buffer) { () throws(EngineError) in
                try readInline(extent, offsetInExtent: 0, length: extent.checksums.count * Int(Extent.checksumBlock), into: buffer.bytes, key: key)
            }
            return nil
        } catch {
            return "inline in the catalog: \(error)"
        }
    }
}
