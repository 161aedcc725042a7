// Event loops must never wait: no SQL, no disk IO, no waiting on another thread's work. In debug
// builds (the tests) the threads running an event loop callback are marked, and every place that
// may wait checks the mark and traps (NIO's `preconditionInEventLoop`, turned around). Release
// builds compile all of it away.
import Glibc

#if DEBUG
    private let onEventLoop: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create")
        return key
    }()
#endif

package enum EventLoopGuard {
    /// Runs `body` with this thread marked as running an event loop callback.
    @inline(__always)
    package static func onLoop<T>(_ body: () throws -> T) rethrows -> T {
        #if DEBUG
            let outer = pthread_getspecific(onEventLoop)
            pthread_setspecific(onEventLoop, UnsafeRawPointer(bitPattern: 1))
            defer { pthread_setspecific(onEventLoop, outer) }
        #endif
        return try body()
    }

    /// Whether this thread runs an event loop callback now (always false in release builds).
    package static var isOnLoop: Bool {
        #if DEBUG
            return pthread_getspecific(onEventLoop) != nil
        #else
            return false
        #endif
    }

    /// Traps (debug builds) when called on an event loop: `what` may wait.
    @inline(__always)
    package static func assertMayWait(_ what: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
        #if DEBUG
            if isOnLoop { preconditionFailure("\(what()) on an event loop thread: event loops must not wait", file: file, line: line) }
        #endif
    }
}
