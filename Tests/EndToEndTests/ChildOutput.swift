// What a child process writes to a pipe, read on a thread of its own until EOF, so the child never
// blocks on a full pipe. Not FileHandle.readabilityHandler: its dispatch read sources, set up and
// torn down by tests running in parallel, corrupt libdispatch's epoll bookkeeping on Linux
// (swift-corelibs-libdispatch#949).
import Foundation
import Glibc

final class ChildOutput: @unchecked Sendable {
    private let condition = NSCondition()
    private var kept = ""  // guarded by condition
    private var ended = false  // guarded by condition
    private static let keep = 1 << 20  // what is kept of the output; the rest is read and dropped

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                condition.lock()
                if n > 0, kept.utf8.count < Self.keep { kept += String(decoding: buffer[0..<n], as: UTF8.self) }
                if n <= 0 { ended = true }
                condition.broadcast()
                condition.unlock()
                if n <= 0 { return }  // EOF: every writer has closed its end; the handle stays open until now
            }
        }
        thread.start()
    }

    var text: String {
        condition.lock()
        defer { condition.unlock() }
        return kept
    }

    /// Waits until `match` finds something in the output, the output ends, or `seconds` pass.
    func wait<T>(seconds: Double, _ match: (String) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let found = match(kept) { return found }
            if ended || !condition.wait(until: deadline) { return match(kept) }
        }
    }
}
