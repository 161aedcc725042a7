// Threads for the work the event loop must not do: handlers that wait on disk, flushes or
// commits, upload consumers and download producers. When none is idle a thread is started, so a
// job that blocks for long (a flush, a throttled writer) delays no other, up to `maxThreads`:
// past it jobs wait in a queue (no job waits for a queued one, so the queue always drains).
// Idle threads are kept a while for the next jobs, then exit; when the last thread beyond the
// kept ones exits (a burst is over), `whenQuiet` runs.
import Foundation

final class WorkerPool: @unchecked Sendable {
    // @unchecked: every field is touched only with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var idle = 0
    private var threads = 0
    /// Idle threads beyond this many exit after `idleTimeout`.
    private let keepIdle: Int
    private let maxThreads: Int
    private let idleTimeout: TimeInterval
    private let name: String
    private let whenQuiet: (@Sendable () -> Void)?

    init(name: String, keepIdle: Int = 8, maxThreads: Int = 1024, idleTimeout: TimeInterval = 30, whenQuiet: (@Sendable () -> Void)? = nil) {
        precondition(maxThreads >= 1)
        self.name = name
        self.keepIdle = keepIdle
        self.maxThreads = maxThreads
        self.idleTimeout = idleTimeout
        self.whenQuiet = whenQuiet
    }

    /// Runs `job` on a worker thread, now.
    func run(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let start = jobs.count > idle && threads < maxThreads
        if start { threads += 1 } else { condition.signal() }
        condition.unlock()
        if start {
            let thread = Thread { [self] in work() }
            thread.name = name
            thread.stackSize = 4 << 20  // Reserved, not committed: handlers get room to spare.
            thread.start()
        }
    }

    /// Threads waiting for a job now.
    var idleCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return idle
    }

    /// Threads alive, and jobs waiting for one (only when all `maxThreads` are busy).
    var figures: (threads: Int, queued: Int) {
        condition.lock()
        defer { condition.unlock() }
        return (threads, max(0, jobs.count - idle))
    }

    /// Threads alive now (busy or idle).
    var threadCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return threads
    }

    private func work() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                idle += 1
                let signalled = condition.wait(until: Date(timeIntervalSinceNow: idleTimeout))
                idle -= 1
                if !signalled, jobs.isEmpty, threads > keepIdle {
                    threads -= 1
                    let quiet = threads == keepIdle
                    condition.unlock()
                    if quiet { whenQuiet?() }
                    return
                }
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
