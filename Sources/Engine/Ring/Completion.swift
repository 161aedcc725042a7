// CQE → result or typed error.
import CURing
import Glibc

/// Bytes transferred (0 for syncs; a short count is not an error here), or the errno as
/// `SyscallError(call: "io_uring read" / "io_uring write" / "io_uring fdatasync" / "io_uring fsync")`.
package typealias IOResult = Result<Int, SyscallError>

struct Completion {
    let index: Int
    let result: IOResult

    init(_ cqe: UnsafePointer<io_uring_cqe>) {
        let userData = UserData(raw: cqe.pointee.user_data)
        index = userData.index
        result = Self.result(res: cqe.pointee.res, kind: userData.kind)
    }

    /// The kernel's `res`: a byte count, or -errno.
    static func result(res: Int32, kind: UserData.Kind) -> IOResult {
        if res >= 0 { return .success(Int(res)) }
        let errno = -res
        // Like Syscalls: errnos that can only be our bug stop the process instead of becoming data.
        precondition(errno != EBADF && errno != EFAULT, "\(kind.call): errno \(errno) can only be a bug")
        return .failure(SyscallError(call: kind.call, errno: errno))
    }
}
