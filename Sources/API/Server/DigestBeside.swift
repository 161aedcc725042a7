// An upload's digests (the MD5 for the ETag, and whatever the client asked to check) computed
// beside its writes instead of after them: a large chunk is hashed on a `digest` thread while the
// upload's worker writes it and then waits for the next chunk, so a stream costs about the longer
// of the two rather than their sum (a 1 GiB PUT spent 1.1 s of its worker's 1.8 s in MD5). A
// chunk's digest may run on until the next chunk arrives: the upload pump keeps a chunk's buffer
// unchanged until the next `consume` returns (`RequestBodySink`). Small chunks are hashed in line:
// a hand-off costs more than their hash.
//
// The worker never waits for a job still queued: if no digest thread has started a chunk by the
// time the worker needs it done (all busy with other uploads), the worker takes the chunk back
// and hashes it itself, so the pool can stay as small as the machine's cores.
import Engine
import Foundation

final class DigestBeside {
    // Not Sendable: one upload's worker drives it (its jobs are the only part other threads see).
    static let workers = WorkerPool(
        name: "digest", keepIdle: ProcessInfo.processInfo.activeProcessorCount,
        maxThreads: ProcessInfo.processInfo.activeProcessorCount)

    /// Chunks at least this large are hashed beside the write (the upload pump's are 1 MiB).
    static let threshold = 128 << 10

    private let workers: WorkerPool
    /// The last large chunk's digest, possibly still running.
    private var pending: Job?

    init(workers: WorkerPool = DigestBeside.workers) { self.workers = workers }

    deinit { settle() }

    /// Runs `write` over `bytes` and queues `digest` of them after every earlier chunk's; a large
    /// chunk's digest runs beside the write and may still run when this returns (also when
    /// `write` throws): `bytes` must stay valid and unchanged until the next `run` or `settle`.
    func run(_ bytes: UnsafeRawBufferPointer, write: () throws -> Void, digest: @escaping (UnsafeRawBufferPointer) -> Void) throws {
        settle()
        guard bytes.count >= Self.threshold else {
            try write()
            digest(bytes)
            return
        }
        let job = Job(body: { digest(bytes) })
        pending = job
        workers.run { job.runUnlessTaken() }
        try write()
    }

    /// Every digest queued so far is done (read the digests after this; it must also come before
    /// the chunks' buffers are reused or freed).
    func settle() {
        pending?.finish()
        pending = nil
    }

    /// One chunk's digest, run once: by a digest thread that starts it first, or by the worker
    /// when it needs it done and no thread has started it.
    private final class Job: @unchecked Sendable {
        // @unchecked: `body` is called once, by whoever moves `phase` from waiting to running, and
        // dropped by the worker once it is done (the pool may still hold the job, queued).
        private enum Phase { case waiting, running, done }
        private let phase = Lock(Phase.waiting)
        private var body: (() -> Void)?

        init(body: @escaping () -> Void) { self.body = body }

        /// Digest thread: runs the body unless the worker took it back.
        func runUnlessTaken() {
            guard claim() else { return }
            body?()
            phase.withLockWaking { $0 = .done }
        }

        /// Worker: the body has run when this returns.
        func finish() {
            if claim() {
                body?()
                phase.withLock { $0 = .done }
            } else {
                phase.wait { $0 == .done }
            }
            body = nil
        }

        private func claim() -> Bool {
            phase.withLock { phase in
                guard phase == .waiting else { return false }
                phase = .running
                return true
            }
        }
    }
}
