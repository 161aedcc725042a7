// An open member device: its O_DIRECT file descriptor, size and logical block size, and the
// superblock read/write. Membership rules live in DeviceSet and Engine+Devices, not here.
import Foundation
import Glibc

package final class Device: Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable { case file, block }

    package static let minimumSize: Int64 = 64 << 20

    let path: String
    let fd: Int32
    let kind: Kind
    /// Total bytes on the device, rounded down to the logical block size.
    let size: Int64
    let logicalBlockSize: Int64

    private init(path: String, fd: Int32, kind: Kind, size: Int64, logicalBlockSize: Int64) {
        self.path = path
        self.fd = fd
        self.kind = kind
        self.size = size
        self.logicalBlockSize = logicalBlockSize
    }

    deinit { Syscalls.close(fd) }

    package var description: String { "device(\(path), \(kind.rawValue), \(size) bytes, lbs \(logicalBlockSize))" }

    /// Usable bytes after the superblock area.
    var dataCapacity: Int64 { size - SuperblockFormat.reservedArea }

    /// Opens `path` for O_DIRECT read/write, checking everything the pool needs of a member;
    /// every refusal is `deviceUnusable` with the reason.
    static func open(path: String) throws(EngineError) -> Device {
        func unusable(_ reason: String) -> EngineError { .deviceUnusable(path: path, reason: reason) }
        let st: stat
        do {
            st = try Syscalls.fileStatus(path)
        } catch {
            throw unusable(error.errno == ENOENT ? "it does not exist" : Syscalls.describe(errno: error.errno))
        }
        let type = st.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else { throw unusable("it is not a regular file or a block device") }
        let kind: Kind = type == S_IFBLK ? .block : .file
        do {
            try Syscalls.access(path, W_OK)
        } catch {
            throw unusable("it is not writable")
        }
        // O_EXCL on a block device fails with EBUSY while it is mounted or held by another user.
        let flags = O_RDWR | Syscalls.oDirect | (kind == .block ? O_EXCL : 0)
        let fd: Int32
        do {
            fd = try Syscalls.open(path, flags: flags)
        } catch {
            switch error.errno {
            case EINVAL: throw unusable("it cannot be opened with O_DIRECT")
            case EACCES, EPERM, EROFS: throw unusable("it is not writable")
            case EBUSY: throw unusable("it is in use (mounted or opened exclusively elsewhere)")
            default: throw unusable("open failed: \(Syscalls.describe(errno: error.errno))")
            }
        }
        do {
            let lbs = kind == .block ? try Syscalls.blockDeviceLogicalBlockSize(fd) : try probeLogicalBlockSize(fd)
            let raw = kind == .block ? try Syscalls.blockDeviceSize(fd) : Int64(try Syscalls.fstat(fd).st_size)
            let size = raw - raw % max(lbs, 4096)
            guard size >= minimumSize else {
                Syscalls.close(fd)
                throw unusable("it holds \(raw) bytes; at least \(minimumSize) bytes (64 MiB) are needed")
            }
            return Device(path: path, fd: fd, kind: kind, size: size, logicalBlockSize: lbs)
        } catch let error as EngineError {
            throw error
        } catch let error as SyscallError {
            Syscalls.close(fd)
            throw unusable("\(error.call) failed: \(Syscalls.describe(errno: error.errno))")
        } catch {
            Syscalls.close(fd)
            throw unusable("\(error)")
        }
    }

    /// Regular files report no logical block size; the smallest O_DIRECT read that works is it.
    private static func probeLogicalBlockSize(_ fd: Int32) throws(SyscallError) -> Int64 {
        let buffer = AlignedBuffer(count: 4096)
        defer { withExtendedLifetime(buffer) {} }
        for candidate in [512, 4096] {
            do {
                _ = try Syscalls.pread(fd, UnsafeMutableRawBufferPointer(rebasing: buffer.bytes[0..<candidate]), offset: 0)
                return Int64(candidate)
            } catch  where error.errno == EINVAL {
                continue
            }
        }
        throw SyscallError(call: "pread(O_DIRECT probe)", errno: EINVAL)
    }

    /// The raw first block (for restoring it if a registration fails after we wrote ours).
    func readHeaderBlock() throws(EngineError) -> AlignedBuffer {
        let buffer = AlignedBuffer(count: SuperblockFormat.blockSize)
        do throws(SyscallError) {
            let n = try Syscalls.pread(fd, buffer.bytes, offset: 0)
            guard n == buffer.count else { throw SyscallError(call: "pread(superblock)", errno: EIO) }
        } catch {
            throw .io(call: error.call, path: path, errno: error.errno)
        }
        return buffer
    }

    func readSuperblock() throws(EngineError) -> SuperblockFormat.Decoded {
        let block = try readHeaderBlock()
        return withExtendedLifetime(block) { SuperblockFormat.decode(UnsafeRawBufferPointer(block.bytes)) }
    }

    func writeSuperblock(_ superblock: Superblock) throws(EngineError) {
        let buffer = AlignedBuffer(count: SuperblockFormat.blockSize)
        SuperblockFormat.encode(superblock, into: buffer.bytes)
        try writeHeaderBlock(buffer)
    }

    /// Writes a header block and makes it durable.
    func writeHeaderBlock(_ buffer: AlignedBuffer) throws(EngineError) {
        do throws(SyscallError) {
            let n = try Syscalls.pwrite(fd, UnsafeRawBufferPointer(buffer.bytes), offset: 0)
            guard n == buffer.count else { throw SyscallError(call: "pwrite(superblock)", errno: EIO) }
            if kind == .file { try Syscalls.fdatasync(fd) } else { try Syscalls.fsync(fd) }
        } catch {
            throw .io(call: error.call, path: path, errno: error.errno)
        }
    }
}
