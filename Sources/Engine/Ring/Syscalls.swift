// Every direct syscall the Engine makes goes through here: one wrapper per call, EINTR retried,
// errno turned into a typed error, a test-only fault hook (compiled only with TEST_HOOKS, as the
// IO observer of IOObserver.swift is). Nothing else in Engine touches libc IO.
import CURing
import Glibc
import Synchronization

package struct SyscallError: Error, Sendable, Equatable {
    package var call: String
    package var errno: Int32
}

package enum Syscalls {
    #if TEST_HOOKS
        /// Test hook (swift-system's mocking idea): the next call named `call` fails with `errno`.
        /// A fault is for any thread, for one thread, for the threads of one name (the engine's
        /// "scrub", "evacuate"…), or for one file descriptor (so a test's fault cannot be consumed
        /// by IO that other tests run at the same time, and reaches the engine's IO on whichever
        /// thread it runs). The call `Engine.catalogFault` is every catalog call of that engine. A fault
        /// is taken `times` times (until cleared: `Int.max`).
        private static let faults = Mutex<[String: (errno: Int32, thread: UInt?, threadName: String?, fd: Int32?, times: Int)]>([:])
        /// How many faults are armed: with none (production), a call pays one relaxed load, not the lock.
        private static let armed = Atomic<Int>(0)

        package static func injectFault(
            call: String, errno: Int32, thisThreadOnly: Bool = false, threadNamed: String? = nil, fd: Int32? = nil, times: Int = 1
        ) {
            let thread = thisThreadOnly ? UInt(pthread_self()) : nil
            faults.withLock { faults in
                faults[call] = (errno, thread, threadNamed, fd, times)
                armed.store(faults.count, ordering: .releasing)
            }
        }

        /// Disarms the fault of `call`, if it was not taken.
        package static func clearFault(call: String) {
            faults.withLock { faults in
                faults[call] = nil
                armed.store(faults.count, ordering: .releasing)
            }
        }

        @inline(__always)
        static func takeFault(_ call: @autoclosure () -> String, fd: Int32? = nil) -> Int32? {
            guard armed.load(ordering: .relaxed) > 0 else { return nil }
            return takeArmedFault(call(), fd: fd)
        }

        private static func takeArmedFault(_ call: String, fd: Int32?) -> Int32? {
            faults.withLock { faults in
                guard let fault = faults[call], fault.thread == nil || fault.thread == UInt(pthread_self()),
                    fault.fd == nil || fault.fd == fd, fault.threadName == nil || fault.threadName == threadName()
                else { return nil }
                faults[call]?.times -= 1
                if fault.times <= 1 { faults[call] = nil }
                armed.store(faults.count, ordering: .releasing)
                return fault.errno
            }
        }

    #else
        /// Release builds have no fault hook: a test that arms one is a test run on the wrong build.
        package static func injectFault(
            call: String, errno: Int32, thisThreadOnly: Bool = false, threadNamed: String? = nil, fd: Int32? = nil, times: Int = 1
        ) {
            preconditionFailure("Syscalls.injectFault needs a build with TEST_HOOKS (a debug build)")
        }

        package static func clearFault(call: String) {}

        @inline(__always)
        static func takeFault(_ call: @autoclosure () -> String, fd: Int32? = nil) -> Int32? { nil }
    #endif

    /// Names the calling thread for the kernel (`top -H`, `perf`, /proc/…/comm; at most 15 bytes).
    static func nameThisThread(_ name: String) {
        _ = c_set_thread_name(String(name.utf8.prefix(15))!)
    }

    static func threadName() -> String {
        var name = [CChar](repeating: 0, count: 16)
        _ = c_get_thread_name(&name, name.count)
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func describe(errno: Int32) -> String {
        String(cString: strerror(errno))
    }

    /// Runs `body` until it does not fail with EINTR; -1 results become `SyscallError`.
    @inline(__always)
    private static func retrying<T: BinaryInteger>(_ call: String, _ body: () -> T) throws(SyscallError) -> T {
        if let errno = takeFault(call) { throw SyscallError(call: call, errno: errno) }
        while true {
            let result = body()
            if result >= 0 { return result }
            let err = Glibc.errno
            if err == EINTR { continue }
            precondition(err != EBADF && err != EFAULT, "\(call): errno \(err) can only be a bug")
            throw SyscallError(call: call, errno: err)
        }
    }

    package static let oDirect = c_O_DIRECT

    static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(SyscallError) -> Int32 {
        let fd = try retrying("open") { Glibc.open(path, flags | O_CLOEXEC, mode) }
        IOObservation.opened(fd, path: path)
        return fd
    }

    static func close(_ fd: Int32) {
        IOObservation.closed(fd)
        _ = Glibc.close(fd)  // Linux: never retry close on EINTR.
    }

    static func fileStatus(_ path: String) throws(SyscallError) -> Glibc.stat {
        var st = Glibc.stat()
        _ = try retrying("stat") { Glibc.lstat(path, &st) }
        return st
    }

    static func fstat(_ fd: Int32) throws(SyscallError) -> stat {
        var st = Glibc.stat()
        _ = try retrying("fstat") { Glibc.fstat(fd, &st) }
        return st
    }

    static func fileSize(_ fd: Int32) throws(SyscallError) -> Int64 {
        Int64(try fstat(fd).st_size)
    }

    static func realpath(_ path: String) throws(SyscallError) -> String {
        guard let resolved = Glibc.realpath(path, nil) else {
            throw SyscallError(call: "realpath", errno: Glibc.errno)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func access(_ path: String, _ mode: Int32) throws(SyscallError) {
        _ = try retrying("access") { Glibc.access(path, mode) }
    }

    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws(SyscallError) -> Int {
        try retrying("pread") { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    static func pwrite(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64) throws(SyscallError) -> Int {
        let token = IOObservation.willWrite(fd: fd, buffer, offset: offset)
        do {
            let n = try retrying("pwrite") { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
            IOObservation.finish(token, ok: true)
            return n
        } catch {
            IOObservation.finish(token, ok: false)
            throw error
        }
    }

    /// Faults in `length` bytes at `address` writable in one call (MADV_POPULATE_WRITE) instead of
    /// one trap per 4 KiB page on first touch. Advisory: on failure the pages fault in as used.
    static func prefault(_ address: UnsafeMutableRawPointer, length: Int) {
        _ = madvise(address, length, MADV_POPULATE_WRITE)
    }

    static func fdatasync(_ fd: Int32) throws(SyscallError) {
        try modelled(IOObservation.willSync(fd: fd)) { () throws(SyscallError) in _ = try retrying("fdatasync") { Glibc.fdatasync(fd) } }
    }

    static func fsync(_ fd: Int32) throws(SyscallError) {
        try modelled(IOObservation.willSync(fd: fd)) { () throws(SyscallError) in _ = try retrying("fsync") { Glibc.fsync(fd) } }
    }

    static func ftruncate(_ fd: Int32, _ length: Int64) throws(SyscallError) {
        try modelled(IOObservation.willTruncate(fd: fd, to: length)) { () throws(SyscallError) in
            _ = try retrying("ftruncate") { Glibc.ftruncate(fd, off_t(length)) }
        }
    }

    /// Runs `call`, telling the IO observer (its `token`) whether it succeeded.
    @inline(__always)
    private static func modelled(_ token: Int64, _ call: () throws(SyscallError) -> Void) throws(SyscallError) {
        do {
            try call()
            IOObservation.finish(token, ok: true)
        } catch {
            IOObservation.finish(token, ok: false)
            throw error
        }
    }

    static func mkdir(_ path: String, mode: mode_t) throws(SyscallError) {
        do {
            _ = try retrying("mkdir") { Glibc.mkdir(path, mode) }
        } catch  where error.errno == EEXIST {
            return
        }
    }

    /// Removes `path`; one that is not there is no error.
    static func unlink(_ path: String) throws(SyscallError) {
        do {
            _ = try retrying("unlink") { Glibc.unlink(path) }
        } catch  where error.errno == ENOENT {
            return
        }
    }

    static func rename(_ from: String, to: String) throws(SyscallError) {
        _ = try retrying("rename") { Glibc.rename(from, to) }
    }

    static func chmod(_ path: String, mode: mode_t) throws(SyscallError) {
        _ = try retrying("chmod") { Glibc.chmod(path, mode) }
    }

    static func blockDeviceSize(_ fd: Int32) throws(SyscallError) -> Int64 {
        var size: UInt64 = 0
        let rc = c_blk_getsize64(fd, &size)
        if rc < 0 { throw SyscallError(call: "ioctl(BLKGETSIZE64)", errno: -rc) }
        return Int64(size)
    }

    static func blockDeviceLogicalBlockSize(_ fd: Int32) throws(SyscallError) -> Int64 {
        var size: Int32 = 0
        let rc = c_blk_logical_block_size(fd, &size)
        if rc < 0 { throw SyscallError(call: "ioctl(BLKSSZGET)", errno: -rc) }
        return Int64(size)
    }
}
