// The one way the Engine starts a thread of its own: named for the kernel (so `top -H`, `perf` and
// the fault hooks see "scrub", "evacuate"…; Foundation's `Thread.name` does not reach the kernel on
// Linux). Which threads exist and who stops them: ARCHITECTURE.md §2.
import Foundation

enum BackgroundThread {
    /// Starts `body` on a new thread called `name` (at most 15 bytes are kept), with
    /// `stackSize` bytes of stack reserved (nil: the default).
    static func start(_ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            Syscalls.nameThisThread(name)
            body()
        }
        thread.name = name
        if let stackSize { thread.stackSize = stackSize }
        thread.start()
    }
}
