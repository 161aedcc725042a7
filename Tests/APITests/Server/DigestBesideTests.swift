import Crypto
import Dispatch
import Engine
import Foundation
import Synchronization
import Testing

// DigestBeside hashes large chunks on its own threads beside the upload's writes: the digest and
// the written bytes must be exactly those of the stream, from many uploads at once; a chunk's
// digest is done when `settle` returns (also after a failed write); and an upload never waits for
// a digest job that no thread has started.
@testable import API

@Suite struct DigestBesideTests {
    /// Sizes below and above the threshold, in an order that mixes them.
    static let chunkSizes = [1, 4096, DigestBeside.threshold, 1 << 20, 7, DigestBeside.threshold - 1, 3 << 19, 65_536, 1 << 20]

    /// One upload: its chunks through `run` (each kept unchanged until the next `run`, as the
    /// upload pump does: the buffer before last is overwritten), returning the MD5 and the bytes
    /// written.
    static func stream(_ workers: WorkerPool, seed: UInt8) throws -> (digest: Data, written: [UInt8], source: [UInt8]) {
        let digests = DigestBeside(workers: workers)
        var source: [UInt8] = []
        var written: [UInt8] = []
        var md5 = Insecure.MD5()
        let buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 2 << 20, alignment: 64) }
        defer { buffers.forEach { $0.deallocate() } }
        for (n, size) in chunkSizes.enumerated() {
            let chunk = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ n &+ Int(seed)) }
            source += chunk
            let buffer = UnsafeMutableRawBufferPointer(rebasing: buffers[n % 2][0..<size])
            buffer.copyBytes(from: chunk)
            let bytes = UnsafeRawBufferPointer(buffer)
            try digests.run(bytes, write: { written.append(contentsOf: bytes) }) { md5.update(bufferPointer: $0) }
        }
        digests.settle()
        return (Data(md5.finalize()), written, source)
    }

    @Test(arguments: [1, 2]) func manyUploadsAtOnceGetTheirOwnDigests(threads: Int) throws {
        let workers = WorkerPool(name: "digest-test", keepIdle: threads, maxThreads: threads)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { upload in
            do {
                let result = try Self.stream(workers, seed: UInt8(upload))
                let expected = Data(Insecure.MD5.hash(data: result.source))
                if result.digest != expected { failures.withLock { $0.append("upload \(upload): digest differs") } }
                if result.written != result.source { failures.withLock { $0.append("upload \(upload): bytes differ") } }
            } catch {
                failures.withLock { $0.append("upload \(upload): \(error)") }
            }
        }
        #expect(failures.withLock { $0 } == [])
    }

    struct WriteFailed: Error {}

    @Test func aFailedWriteStillEndsItsDigestBySettle() throws {
        let digests = DigestBeside(workers: WorkerPool(name: "digest-test", keepIdle: 1, maxThreads: 1))
        let chunk = [UInt8](repeating: 7, count: 1 << 20)
        let hashed = Mutex(0)
        try chunk.withUnsafeBytes { bytes in
            #expect(throws: WriteFailed.self) {
                try digests.run(bytes, write: { throw WriteFailed() }) { bytes in hashed.withLock { $0 += bytes.count } }
            }
            digests.settle()
        }
        #expect(hashed.withLock { $0 } == chunk.count)
    }

    /// The only digest thread is held by another upload's chunk: this upload hashes its own chunk
    /// when it settles, instead of waiting for the thread.
    @Test func aChunkNoThreadStartedIsHashedByItsUpload() throws {
        let workers = WorkerPool(name: "digest-test", keepIdle: 1, maxThreads: 1)
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let chunk = [UInt8](repeating: 1, count: 1 << 20)
        try chunk.withUnsafeBytes { bytes in
            let first = DigestBeside(workers: workers)
            try first.run(bytes, write: {}) { _ in
                started.signal()
                release.wait()
            }
            started.wait()  // The pool's one thread is now inside the first upload's digest.
            let second = DispatchSemaphore(value: 0)
            let hashed = Mutex(false)
            let base = UInt(bitPattern: bytes.baseAddress), count = bytes.count
            Thread.detachNewThread {
                let bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(bitPattern: base), count: count)
                let digests = DigestBeside(workers: workers)
                try? digests.run(bytes, write: {}) { _ in hashed.withLock { $0 = true } }
                digests.settle()
                second.signal()
            }
            let finished = second.wait(timeout: .now() + 10) == .success
            release.signal()
            first.settle()
            #expect(finished, "the second upload waited for the busy digest thread")
            #expect(hashed.withLock { $0 })
        }
    }
}
