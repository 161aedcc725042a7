// One thread and one ring that keep a queue's extent writes streaming to the devices: the
// operations of queued buffers are submitted as slots free up, one at a time, so the devices see
// a steady depth (fio's pattern). A buffer written as one batch on a thread of its own left the
// devices with a draining queue until the whole batch was done, and took its checksums and
// allocation on the critical path first; its owner (ExtentWriteQueue) now does those while the
// stream writes the buffers before it.
import Catalog
import Foundation

/// One buffer's planned writes on their way through a WriteStream (or written on the owner's
/// thread, `writeHere`). `done` is signalled once the last of its operations completed.
final class WriteJob: @unchecked Sendable {
    // @unchecked: the owner sets the plan before the job is queued; the stream's thread then
    // writes only `error` and `remaining`, and the owner reads them after waiting on `done`.
    // `pages` is the owner's alone.
    let buffer: AlignedBuffer
    let length: Int
    let logicalOffset: Int64
    var plan = Engine.PlannedWrite()
    /// Every range allocated for it, including by a plan that failed half way.
    var allocated: [PhysicalRange] = []
    /// Write-through copies of its bytes (WriteThrough.swift), when it was asked to stage them.
    var pages: [Page] = []
    var error: EngineError?
    fileprivate var remaining = 0
    fileprivate var started = ContinuousClock.now
    let done = DispatchSemaphore(value: 0)

    init(buffer: AlignedBuffer, length: Int, logicalOffset: Int64) {
        self.buffer = buffer
        self.length = length
        self.logicalOffset = logicalOffset
    }

    /// Starts the clock; false (and done) when there is nothing to write.
    fileprivate func begin() -> Bool {
        remaining = plan.operations.count
        started = .now
        if remaining == 0 { done.signal() }
        return remaining > 0
    }

    /// One operation's result; the job is done after the last.
    fileprivate func completed(_ operation: Int, _ result: IOResult, engine: Engine, volume: String) {
        if let failure = engine.checkWrite(plan.targets[operation], result), error == nil { error = failure }
        remaining -= 1
        guard remaining == 0 else { return }
        engine.stats.observe("write", since: started)
        if error == nil {
            engine.stats.volume(volume) {
                $0.bytesWritten += Int64(length)
                $0.writeOps += 1
            }
        }
        done.signal()
    }

    /// Writes the job on the calling thread, as one batch.
    func writeHere(engine: Engine, volume: String) {
        Self.writeHere([(self, volume)], engine: engine)
    }

    /// Writes several jobs on the calling thread, as one ring batch (the writeback of many small
    /// objects: WritebackBatch.swift).
    static func writeHere(_ jobs: [(job: WriteJob, volume: String)], engine: Engine) {
        let started = jobs.filter { $0.job.begin() }
        guard !started.isEmpty else { return }
        let results = engine.rings.withRing { $0.perform(started.flatMap(\.job.plan.operations)) }
        var next = 0
        for (job, volume) in started {
            for operation in job.plan.operations.indices {
                job.completed(operation, results[next], engine: engine, volume: volume)
                next += 1
            }
        }
    }
}

final class WriteStream: @unchecked Sendable {
    // @unchecked: `queue` is behind its lock; everything else is immutable or the thread's own.
    private let engine: Engine
    private let volume: String
    private let queue = Lock<(jobs: [WriteJob], closed: Bool)>(([], false))
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the thread; `depth`: operations kept in flight at most.
    init(engine: Engine, volume: String, depth: Int) {
        self.engine = engine
        self.volume = volume
        BackgroundThread.start("write-stream") { [self] in run(depth: depth) }
    }

    func enqueue(_ job: WriteJob) {
        guard job.begin() else { return }
        queue.withLock { $0.jobs.append(job) }
        wake.signal()
    }

    /// No more jobs: the thread ends once those queued are written.
    func close() {
        queue.withLock { $0.closed = true }
        wake.signal()
    }

    private func run(depth: Int) {
        var current: WriteJob?
        var nextOperation = 0
        var issued: [Int: (job: WriteJob, operation: Int)] = [:]
        var count = 0
        engine.rings.withRing { ring in
            ring.stream(
                depth: depth,
                next: { mayWait in
                    while true {
                        if let job = current, nextOperation < job.plan.operations.count {
                            issued[count] = (job, nextOperation)
                            count += 1
                            nextOperation += 1
                            return .operation(job.plan.operations[nextOperation - 1])
                        }
                        let (job, closed) = queue.withLock { ($0.jobs.isEmpty ? nil : $0.jobs.removeFirst(), $0.closed) }
                        (current, nextOperation) = (job, 0)
                        if job != nil { continue }
                        if closed { return .end }
                        if !mayWait { return .idle }
                        wake.wait()
                    }
                },
                complete: { index, result in
                    guard let (job, operation) = issued.removeValue(forKey: index) else {
                        preconditionFailure("write stream: completion \(index) of an operation never issued")
                    }
                    job.completed(operation, result, engine: engine, volume: volume)
                })
        }
    }
}
