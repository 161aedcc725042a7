// The one pool type for work that runs beside its caller, bounded: the HTTP listeners' workers
// (handlers that wait on disk, upload consumers, download producers) and the Engine's own
// (writeback helpers, read-ahead). When no thread is idle one is started, so a job that blocks for
// long (a flush, a throttled writer) delays no other, up to `maxThreads`: past it jobs wait in a
// queue (no job waits for a queued one, so the queue always drains). Idle threads are kept a
// while for the next jobs, then exit; when the last thread beyond the kept ones exits (a burst is
// over), `whenQuiet` runs. Threads and queue depth are on /metrics.
import Synchronization

package final class WorkerPool: Sendable {
    private struct Job {
        /// The thread's name while it runs the job (`top -H`, the fault hooks); nil: the pool's.
        var name: String?
        var body: @Sendable () -> Void
    }

    private struct State {
        var jobs: [Job] = []
        /// Index of the next job in `jobs` (taken jobs are dropped in batches, not one by one).
        var head = 0
        var idle = 0
        var threads = 0

        var queued: Int { jobs.count - head }

        mutating func take() -> Job? {
            guard head < jobs.count else { return nil }
            let job = jobs[head]
            head += 1
            if head == jobs.count || head >= 1024 {
                jobs.removeFirst(head)
                head = 0
            }
            return job
        }
    }

    /// Jobs queued and taken are made with `withLockSignaling` / waited for on its condition.
    private let state = Lock(State())
    /// Idle threads beyond this many exit after `idleTimeout`.
    private let keepIdle: Int
    package let maxThreads: Int
    private let idleTimeout: Double
    private let name: String
    private let whenQuiet: (@Sendable () -> Void)?

    package init(name: String, keepIdle: Int = 8, maxThreads: Int = 1024, idleTimeout: Double = 30, whenQuiet: (@Sendable () -> Void)? = nil) {
        precondition(maxThreads >= 1)
        self.name = name
        self.keepIdle = keepIdle
        self.maxThreads = maxThreads
        self.idleTimeout = idleTimeout
        self.whenQuiet = whenQuiet
    }

    /// Runs `job` on a worker thread: an idle one, a new one, or (all `maxThreads` busy) the next
    /// one free; named `name` while it runs it (a long job: "scrub", "evacuate").
    package func run(as name: String? = nil, _ job: @escaping @Sendable () -> Void) {
        let start = state.withLockSignaling { state -> Bool in
            state.jobs.append(Job(name: name, body: job))
            guard state.queued > state.idle, state.threads < maxThreads else { return false }
            state.threads += 1
            return true
        }
        if start { BackgroundThread.start(self.name, stackSize: 4 << 20) { [self] in work() } }  // Reserved, not committed.
    }

    /// Threads waiting for a job now.
    package var idleCount: Int { state.withLock { $0.idle } }

    /// Threads alive, and jobs waiting for one (only when all `maxThreads` are busy).
    package var figures: (threads: Int, queued: Int) {
        state.withLock { ($0.threads, max(0, $0.queued - $0.idle)) }
    }

    /// Threads alive now (busy or idle).
    package var threadCount: Int { state.withLock { $0.threads } }

    private enum Next {
        case run(Job)
        case again
        case exit(quiet: Bool)
    }

    private func work() {
        while true {
            state.withLock { $0.idle += 1 }
            let next = state.withLock(waitingUpTo: idleTimeout, until: { $0.queued > 0 }) { state, ready -> Next in
                state.idle -= 1
                if let job = state.take() { return .run(job) }
                guard !ready, state.threads > keepIdle else { return .again }
                state.threads -= 1
                return .exit(quiet: state.threads == keepIdle)
            }
            switch next {
            case .run(let job):
                if let name = job.name { Syscalls.nameThisThread(name) }
                job.body()
                if job.name != nil { Syscalls.nameThisThread(self.name) }
            case .again:
                continue
            case .exit(let quiet):
                if quiet { whenQuiet?() }
                return
            }
        }
    }
}
