// Our request enum → SQE.
import CURing

/// One IO operation. Buffers must stay valid until `perform`/`pipeline` returns.
package enum IOOperation: @unchecked Sendable {  // the buffer pointers are the caller's to keep alive
    case read(fd: Int32, buffer: UnsafeMutableRawBufferPointer, offset: Int64)
    case write(fd: Int32, buffer: UnsafeRawBufferPointer, offset: Int64)
    case fdatasync(fd: Int32)
    case fsync(fd: Int32)

    var kind: UserData.Kind {
        switch self {
        case .read: .read
        case .write: .write
        case .fdatasync: .fdatasync
        case .fsync: .fsync
        }
    }

    var fd: Int32 {
        switch self {
        case .read(let fd, _, _), .write(let fd, _, _), .fdatasync(let fd), .fsync(let fd): fd
        }
    }

    /// Tells the IO observer (tests) about this operation before it is submitted: its token.
    func announce() -> Int64 {
        switch self {
        case .read: 0
        case let .write(fd, buffer, offset): IOObservation.willWrite(fd: fd, buffer, offset: offset)
        case let .fdatasync(fd), let .fsync(fd): IOObservation.willSync(fd: fd)
        }
    }

    /// Fills `sqe` (fresh from io_uring_get_sqe) for this operation, tagged with operation `index`.
    func prepare(_ sqe: UnsafeMutablePointer<io_uring_sqe>, index: Int) {
        switch self {
        case let .read(fd, buffer, offset):
            io_uring_prep_read(sqe, fd, buffer.baseAddress, Self.length(buffer.count), UInt64(bitPattern: offset))
        case let .write(fd, buffer, offset):
            io_uring_prep_write(sqe, fd, buffer.baseAddress, Self.length(buffer.count), UInt64(bitPattern: offset))
        case let .fdatasync(fd):
            io_uring_prep_fsync(sqe, fd, UInt32(IORING_FSYNC_DATASYNC))
        case let .fsync(fd):
            io_uring_prep_fsync(sqe, fd, 0)
        }
        io_uring_sqe_set_data64(sqe, UserData(index: index, kind: kind).raw)
    }

    /// An SQE carries a 32-bit length; larger buffers are a caller bug (split them).
    private static func length(_ count: Int) -> UInt32 {
        guard let length = UInt32(exactly: count) else {
            preconditionFailure("io_uring: a \(count)-byte buffer exceeds the SQE's 32-bit length")
        }
        return length
    }
}
