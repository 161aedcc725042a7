import Foundation
import Synchronization
import Testing

// The worker pool: a job never waits for another, and idle threads are reused.
@testable import Engine

@Suite struct WorkerPoolTests {
    @Test func aBlockedJobDelaysNoOther() {
        let pool = WorkerPool(name: "test-worker")
        let release = DispatchSemaphore(value: 0)
        let blockedDone = DispatchSemaphore(value: 0)
        pool.run {
            release.wait()
            blockedDone.signal()
        }
        let others = DispatchSemaphore(value: 0)
        for _ in 0..<8 { pool.run { others.signal() } }
        for _ in 0..<8 { #expect(others.wait(timeout: .now() + 10) == .success, "a job waited behind a blocked one") }
        release.signal()
        #expect(blockedDone.wait(timeout: .now() + 10) == .success)
    }

    @Test func idleThreadsAreReused() {
        let pool = WorkerPool(name: "test-worker")
        let ran = Atomic<Int>(0)
        for _ in 0..<50 {
            let done = DispatchSemaphore(value: 0)
            pool.run {
                ran.add(1, ordering: .relaxed)
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 10) == .success)
            // The worker goes idle right after its job: give it the moment to get there.
            for _ in 0..<100 where pool.idleCount == 0 { usleep(1000) }
        }
        #expect(ran.load(ordering: .relaxed) == 50)
        #expect(pool.threadCount == 1, "one job at a time needs one thread, not \(pool.threadCount)")
    }

    @Test func idleThreadsBeyondTheKeptOnesExitAndWhenQuietRunsOnce() {
        let quiet = Atomic<Int>(0)
        let pool = WorkerPool(name: "test-worker", keepIdle: 1, idleTimeout: 0.05, whenQuiet: { quiet.add(1, ordering: .relaxed) })
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        for _ in 0..<4 {
            pool.run {
                started.signal()
                release.wait()
            }
        }
        for _ in 0..<4 { #expect(started.wait(timeout: .now() + 10) == .success) }
        #expect(pool.threadCount == 4)
        #expect(quiet.load(ordering: .relaxed) == 0, "not while the burst runs")
        for _ in 0..<4 { release.signal() }
        for _ in 0..<400 where pool.threadCount > 1 || quiet.load(ordering: .relaxed) == 0 { usleep(5000) }
        usleep(200_000)  // Several idle timeouts: the kept thread neither exits nor reports again.
        #expect(pool.threadCount == 1)
        #expect(quiet.load(ordering: .relaxed) == 1)
    }
}
