// The seam the power-cut model plugs into (it lives in the EngineTestSupport target, not here):
// Syscalls and the ring tell an installed observer about every open, close, write, sync and
// truncate, and whether each one completed. Compiled only with TEST_HOOKS (debug builds, which the
// tests use); a release binary has no observer and its IO paths carry no check for one.
import Synchronization

package protocol IOObserver: AnyObject, Sendable {
    func opened(_ fd: Int32, path: String)
    func closed(_ fd: Int32)
    /// Before a write to `fd`: a token for `finish`, or 0 when the fd is not watched.
    func willWrite(fd: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int64) -> Int64
    func willSync(fd: Int32) -> Int64
    func willTruncate(fd: Int32, to size: Int64) -> Int64
    func finish(_ token: Int64, ok: Bool)
}

package enum IOObservation {
    #if TEST_HOOKS
        private static let installed = Mutex<(any IOObserver)?>(nil)
        /// With nothing installed, a call pays one relaxed load, not the lock.
        private static let active = Atomic<Bool>(false)

        /// Installs `observer` (one at a time per process), or removes it with nil.
        package static func install(_ observer: (any IOObserver)?) {
            installed.withLock { installed in
                precondition(observer == nil || installed == nil, "one IO observer at a time")
                installed = observer
                active.store(observer != nil, ordering: .releasing)
            }
        }

        @inline(__always)
        static var current: (any IOObserver)? {
            guard active.load(ordering: .relaxed) else { return nil }
            return installed.withLock { $0 }
        }
    #else
        package static func install(_ observer: (any IOObserver)?) {
            precondition(observer == nil, "an IO observer needs a build with TEST_HOOKS (a debug build)")
        }

        @inline(__always)
        static var current: (any IOObserver)? { nil }
    #endif

    static func opened(_ fd: Int32, path: String) { current?.opened(fd, path: path) }
    static func closed(_ fd: Int32) { current?.closed(fd) }
    static func willWrite(fd: Int32, _ bytes: UnsafeRawBufferPointer, offset: Int64) -> Int64 {
        current?.willWrite(fd: fd, bytes, offset: offset) ?? 0
    }
    static func willSync(fd: Int32) -> Int64 { current?.willSync(fd: fd) ?? 0 }
    static func willTruncate(fd: Int32, to size: Int64) -> Int64 { current?.willTruncate(fd: fd, to: size) ?? 0 }
    static func finish(_ token: Int64, ok: Bool) {
        guard token != 0 else { return }
        current?.finish(token, ok: ok)
    }
}
