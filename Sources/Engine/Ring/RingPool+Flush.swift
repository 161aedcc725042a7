// Flushes of several files at once (fdatasync or fsync each): the first on the calling thread
// while one ring batch has the others. Through io_uring every flush is punted to an io-wq thread,
// and a second one blocked makes the submitter wake yet another; one file is a plain syscall.
// The catalog copies' syncs and a group commit's device flushes go through here.
extension RingPool {
    /// Runs `flushes` (each `.fdatasync` or `.fsync`) and returns their results in order.
    func flush(_ flushes: [IOOperation]) -> [IOResult] {
        guard let first = flushes.first else { return [] }
        var firstResult: IOResult = .success(0)
        let flushFirst = {
            do throws(SyscallError) {
                switch first {
                case .fdatasync(let fd): try Syscalls.fdatasync(fd)
                case .fsync(let fd): try Syscalls.fsync(fd)
                case .read, .write: preconditionFailure("RingPool.flush: a \(first.kind) is not a flush")
                }
            } catch {
                firstResult = .failure(error)
            }
        }
        let rest = flushes.count == 1 ? [] : withRing { $0.perform(Array(flushes.dropFirst()), meanwhile: flushFirst) }
        if flushes.count == 1 { flushFirst() }
        return [firstResult] + rest
    }
}
