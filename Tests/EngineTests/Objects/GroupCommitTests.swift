// Group commit: concurrent sync writes share device flushes and catalog transactions, each is
// answered only once its data and its commit are durable, and one write's failure is its own.
import Catalog
import Foundation
import Glibc
import Synchronization
import Testing

@testable import Engine

@Suite(.serialized) struct GroupCommitTests {
    /// Runs `body(thread)` on `threads` threads released together; waits for all.
    static func together(_ threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let start = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            Thread {
                start.wait()
                body(t)
                done.leave()
            }.start()
        }
        for _ in 0..<threads { start.signal() }
        done.wait()
    }

    @Test func concurrentSyncPutsShareFlushesAndTransactions() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 128 << 20, volume: "vol", replicas: 2)
        let failures = Mutex<[String]>([])
        let (threads, each) = (16, 8)
        let groups0 = engine.groupCommit.groups.load(ordering: .relaxed)
        let changes0 = engine.groupCommit.changes.load(ordering: .relaxed)
        let flushes0 = engine.groupCommit.flushes.load(ordering: .relaxed)
        Self.together(threads) { t in
            for i in 0..<each {
                let data = Scratch.splitMixBytes(4096, seed: UInt64(t * 100 + i))
                do {
                    if (t + i) % 2 == 0 {
                        try Scratch.upload(engine, "vol", "t\(t)/\(i)", data)
                    } else {
                        try Scratch.bufferedUpload(engine, "vol", "t\(t)/\(i)", data, sync: true)
                    }
                } catch {
                    failures.withLock { $0.append("t\(t)/\(i): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let groups = engine.groupCommit.groups.load(ordering: .relaxed) - groups0
        let changes = engine.groupCommit.changes.load(ordering: .relaxed) - changes0
        let flushes = engine.groupCommit.flushes.load(ordering: .relaxed) - flushes0
        // Every PUT committed (a buffered sync PUT through its writeback), in fewer transactions
        // and with fewer than one flush per device per PUT.
        #expect(changes == threads * each, "changes \(changes)")
        #expect(groups < changes, "\(groups) catalog transactions for \(changes) commits")
        #expect(flushes < 2 * changes, "\(flushes) device flushes for \(changes) commits on 2 devices")
        // Everything acknowledged is there after a restart.
        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        for t in 0..<threads {
            for i in 0..<each {
                let data = Scratch.splitMixBytes(4096, seed: UInt64(t * 100 + i))
                #expect(try ConcurrentLifecycleTests.read(reopened, "vol", "t\(t)/\(i)", direct: true) == data, "t\(t)/\(i)")
            }
        }
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after a restart")
    }

    /// A write that fails at its device fails its own PUT only: the others in flight at the same
    /// time commit.
    @Test func oneFailedDataWriteFailsOnlyItsPut() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 128 << 20, volume: "vol")
        defer { engine.shutdown() }
        let outcomes = Mutex<[Int: String]>([:])
        Self.together(8) { t in
            if t == 3 { Syscalls.injectFault(call: "io_uring write", errno: EIO, thisThreadOnly: true) }
            do {
                try Scratch.upload(engine, "vol", "k\(t)", Scratch.splitMixBytes(4096, seed: UInt64(t)))
                outcomes.withLock { $0[t] = "ok" }
            } catch {
                outcomes.withLock { $0[t] = "\(error)" }
            }
        }
        let seen = outcomes.withLock { $0 }
        for t in 0..<8 where t != 3 { #expect(seen[t] == "ok", "k\(t): \(seen[t] ?? "?")") }
        #expect(seen[3] != "ok", "the PUT whose write failed")
        #expect(throws: EngineError.self) { try engine.openObject(volume: "vol", key: "k3") }
        for t in 0..<8 where t != 3 {
            #expect(try ConcurrentLifecycleTests.read(engine, "vol", "k\(t)", direct: true) == Scratch.splitMixBytes(4096, seed: UInt64(t)))
        }
        #expect(engine.spaceAudit().isEmpty)
    }

    /// One catalog change that fails (its validation throws) rolls back alone; the rest of its
    /// group commits.
    @Test func oneFailedChangeRollsBackAlone() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 128 << 20, volume: "vol")
        defer { engine.shutdown() }
        let volumeID = try engine.volumeRecord(named: "vol").id!
        let outcomes = Mutex<[Int: Bool]>([:])
        struct Refused: Error {}
        Self.together(8) { t in
            do {
                _ = try engine.groupCommit.commit(engine, devices: []) { transaction in
                    try transaction.commitObject(
                        .init(volumeID: volumeID, key: "c\(t)", size: 0, etag: "e", contentType: nil), extents: [], now: Date()
                    ) { _ in if t == 5 { throw Refused() } }
                }
                outcomes.withLock { $0[t] = true }
            } catch {
                outcomes.withLock { $0[t] = false }
            }
        }
        let seen = outcomes.withLock { $0 }
        for t in 0..<8 { #expect(seen[t] == (t != 5), "c\(t)") }
        let keys = try engine.listObjects(volume: "vol", prefix: "c", startAfter: nil, limit: 100).map(\.key)
        #expect(keys == (0..<8).filter { $0 != 5 }.map { "c\($0)" })
    }
}
