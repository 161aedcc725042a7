// One physical copy of an extent read whole from its device and checked block by block against
// the extent's crc32c: what `appliance check --verify-data` (and a scrub) asks of every copy.
import Foundation

extension Engine {
    /// Nil when every block of `replica` verifies; otherwise the first problem found (unreadable,
    /// short, or the offsets of blocks that do not match). Counts errors against the device as a
    /// read would.
    func checkReplica(_ extent: Extent, _ replica: PhysicalRange) -> String? {
        guard let device = devices.device(id: replica.deviceID) else { return "device \(replica.deviceID) is not open" }
        let block = Int(Extent.checksumBlock)
        let padded = extent.checksums.count * block
        let chunk = Self.readChunk
        let buffer = AlignedBuffer(count: chunk)
        var bad: [Int64] = []
        return withExtendedLifetime((device, buffer)) { () -> String? in
            for start in stride(from: 0, to: padded, by: chunk) {
                let length = min(chunk, padded - start)
                let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length])
                let result = rings.withRing { $0.perform([.read(fd: device.fd, buffer: bytes, offset: replica.offset + Int64(start))]) }[0]
                switch result {
                case .failure(let error):
                    deviceIOError(replica.deviceID)
                    return "\(device.path) at \(replica.offset + Int64(start)): \(Syscalls.describe(errno: error.errno))"
                case .success(let n) where n != length:
                    deviceIOError(replica.deviceID)
                    return "\(device.path) at \(replica.offset + Int64(start)): short read (\(n) of \(length))"
                case .success:
                    break
                }
                for at in stride(from: 0, to: length, by: block)
                where !extent.verifies(UnsafeRawBufferPointer(rebasing: bytes[at..<at + block]), offsetInExtent: Int64(start + at)) {
                    bad.append(Int64(start + at))
                }
            }
            guard !bad.isEmpty else { return nil }
            stats.device(replica.deviceID) { $0.checksumErrors += Int64(bad.count) }
            return "\(device.path): \(bad.count) block(s) fail their checksum, first at extent offset \(bad[0])"
        }
    }
}
