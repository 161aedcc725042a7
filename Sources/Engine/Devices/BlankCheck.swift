// What "blank" means before a device joins the pool: every byte zero in the windows where the
// appliance writes its header and where other formats keep their labels, and the wipe on removal
// that makes a device the appliance let go of read as blank again. The superblock's own decoding
// lives in SuperblockFormat; the decision to refuse lives in Engine+Devices.
import Glibc

enum BlankCheck {
    /// Bytes read or zeroed at a time.
    static let chunk = 1 << 20

    /// The byte ranges that must read as zero, in ascending order and disjoint, for a device of
    /// `size` bytes (a multiple of 4 KiB, at least 64 MiB):
    /// - the first MiB, the appliance's header area: ext2/3/4 and XFS at 0-1 KiB, LVM at 512 B,
    ///   md 1.1 at 0 and 1.2 at 4 KiB, 8 KiB, ISO 9660 at 32 KiB, btrfs at 64 KiB, ZFS labels
    ///   0 and 1 at 0 and 256 KiB, GPT, bcachefs at 4 KiB;
    /// - btrfs's first mirror superblock at 64 MiB;
    /// - the last MiB: ZFS labels 2 and 3 in the last 512 KiB, md 0.90 and 1.0 and the GPT
    ///   backup at the end.
    static func windows(deviceSize size: Int64) -> [Range<Int64>] {
        let head: Range<Int64> = 0..<min(SuperblockFormat.reservedArea, size)
        let mirror: Range<Int64> = (64 << 20)..<((64 << 20) + 4096)
        let tail: Range<Int64> = max(head.upperBound, size - (1 << 20))..<size
        var windows = [head]
        if mirror.upperBound <= tail.lowerBound { windows.append(mirror) }
        if !tail.isEmpty { windows.append(tail) }
        return windows
    }
}

extension Device {
    /// The offset of the first non-zero byte in the blank-check windows; nil when they are all zero.
    func firstNonZeroByte() throws(EngineError) -> Int64? {
        let buffer = AlignedBuffer(count: BlankCheck.chunk)
        return try withExtendedLifetime(buffer) { () throws(EngineError) -> Int64? in
            for window in BlankCheck.windows(deviceSize: size) {
                var offset = window.lowerBound
                while offset < window.upperBound {
                    let length = Int(min(Int64(BlankCheck.chunk), window.upperBound - offset))
                    let bytes = UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<length])
                    let n: Int
                    do throws(SyscallError) {
                        n = try Syscalls.pread(fd, bytes, offset: offset)
                    } catch {
                        throw .io(call: error.call, path: path, errno: error.errno)
                    }
                    if n < length { throw .io(call: "pread(blank check)", path: path, errno: EIO) }
                    if let index = bytes.firstIndex(where: { $0 != 0 }) { return offset + Int64(index) }
                    offset += Int64(length)
                }
            }
            return nil
        }
    }

    /// Zeroes every blank-check window (superblock included) and makes it durable, so that a
    /// device removed from the pool can be added again, here or elsewhere, without force.
    func wipeBlankCheckWindows() throws(EngineError) {
        let zeros = AlignedBuffer(count: BlankCheck.chunk)
        try withExtendedLifetime(zeros) { () throws(EngineError) in
            do throws(SyscallError) {
                for window in BlankCheck.windows(deviceSize: size) {
                    var offset = window.lowerBound
                    while offset < window.upperBound {
                        let length = Int(min(Int64(BlankCheck.chunk), window.upperBound - offset))
                        let n = try Syscalls.pwrite(fd, UnsafeRawBufferPointer(rebasing: zeros.bytes[0..<length]), offset: offset)
                        guard n == length else { throw SyscallError(call: "pwrite(wipe)", errno: EIO) }
                        offset += Int64(length)
                    }
                }
                if kind == .file { try Syscalls.fdatasync(fd) } else { try Syscalls.fsync(fd) }
            } catch {
                throw .io(call: error.call, path: path, errno: error.errno)
            }
        }
    }
}
