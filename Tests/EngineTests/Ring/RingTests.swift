import Foundation
import Glibc
import Synchronization
import Testing

// io_uring ring layer: batches, pipelines, short reads, injected faults and the ring pool,
// against O_DIRECT temp files.
@testable import Engine

/// Serialized: the EIO test injects a process-wide fault for "io_uring write", which a
/// concurrently running ring write in this suite could otherwise consume.
@Suite(.serialized) struct RingTests {
    static let block = 4096

    /// A 4 KiB-aligned buffer (O_DIRECT), freed by the caller.
    static func alignedBuffer(_ count: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: block)
    }

    /// A fresh O_DIRECT file of `size` bytes in a temp directory; the caller closes and removes.
    static func directFile(size: Int64 = 0) throws -> (fd: Int32, directory: URL) {
        let directory = try Scratch.directory()
        let fd = try Syscalls.open(directory.appending(path: "ring").path, flags: O_RDWR | O_CREAT | Syscalls.oDirect)
        if size > 0 { try Syscalls.ftruncate(fd, size) }
        return (fd, directory)
    }

    static func close(_ file: (fd: Int32, directory: URL)) {
        Syscalls.close(file.fd)
        Scratch.remove(file.directory)
    }

    /// Writes `blocks` 4 KiB blocks whose first 8 bytes are the block number.
    static func fillNumberedBlocks(_ ring: Ring, fd: Int32, blocks: Int) throws {
        let buffer = alignedBuffer(blocks * block)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0xA5)
        for i in 0..<blocks { buffer.storeBytes(of: UInt64(i), toByteOffset: i * block, as: UInt64.self) }
        let results = ring.perform([
            .write(fd: fd, buffer: UnsafeRawBufferPointer(buffer), offset: 0), .fdatasync(fd: fd),
        ])
        #expect(try results[0].get() == blocks * block)
        #expect(try results[1].get() == 0)
    }

    @Test func writeSyncAndReadBackOneMebibyte() throws {
        let file = try Self.directFile()
        defer { Self.close(file) }
        let ring = try Ring()
        let size = 1 << 20
        let written = Self.alignedBuffer(size)
        let read = Self.alignedBuffer(size)
        defer { written.deallocate(); read.deallocate() }
        for i in 0..<size { written[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 12) }
        read.initializeMemory(as: UInt8.self, repeating: 0)

        let writeResults = ring.perform([
            .write(fd: file.fd, buffer: UnsafeRawBufferPointer(written), offset: 4096),
            .fdatasync(fd: file.fd),
        ])
        #expect(try writeResults.map { try $0.get() } == [size, 0])
        let readResults = ring.perform([.read(fd: file.fd, buffer: read, offset: 4096)])
        #expect(try readResults.map { try $0.get() } == [size])
        #expect(memcmp(written.baseAddress!, read.baseAddress!, size) == 0)
        #expect(try Syscalls.fstat(file.fd).st_size == 4096 + Int64(size))
    }

    @Test func batchLargerThanTheRingCompletesInInputOrder() throws {
        let file = try Self.directFile()
        defer { Self.close(file) }
        let ring = try Ring(entries: 128)
        #expect(ring.entries == 128)
        let count = 300
        try Self.fillNumberedBlocks(ring, fd: file.fd, blocks: count)

        // Reads of differing lengths (512 B … 4 KiB), so each result identifies its operation.
        let buffer = Self.alignedBuffer(count * Self.block)
        defer { buffer.deallocate() }
        let lengths = (0..<count).map { 512 * (1 + $0 % 8) }
        let operations = (0..<count).map { i in
            IOOperation.read(
                fd: file.fd,
                buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[i * Self.block..<i * Self.block + lengths[i]]),
                offset: Int64(i * Self.block))
        }
        let results = ring.perform(operations + [.fsync(fd: file.fd)])
        #expect(results.count == count + 1)
        #expect(try results.prefix(count).map { try $0.get() } == lengths)
        #expect(try results[count].get() == 0)
        for i in 0..<count {
            #expect(buffer.load(fromByteOffset: i * Self.block, as: UInt64.self) == UInt64(i))
        }
    }

    @Test func pipelineKeepsTheDepthAndCompletesEveryOperationOnce() throws {
        let file = try Self.directFile()
        defer { Self.close(file) }
        let ring = try Ring()
        let blocks = 4096  // 16 MiB
        try Self.fillNumberedBlocks(ring, fd: file.fd, blocks: blocks)

        let count = 1000
        let depth = 32
        let buffers = Self.alignedBuffer(count * Self.block)
        defer { buffers.deallocate() }
        var generator = SystemRandomNumberGenerator()
        let targets = (0..<count).map { _ in Int.random(in: 0..<blocks, using: &generator) }
        var made = 0
        var completed = [Int](repeating: 0, count: count)
        var maxInFlight = 0
        var failures = 0

        ring.pipeline(
            count: count, depth: depth,
            make: { i in
                #expect(i == made)  // built in order
                made += 1
                maxInFlight = max(maxInFlight, made - completed.reduce(0, +))
                return .read(
                    fd: file.fd,
                    buffer: UnsafeMutableRawBufferPointer(rebasing: buffers[i * Self.block..<(i + 1) * Self.block]),
                    offset: Int64(targets[i] * Self.block))
            },
            complete: { i, result in
                completed[i] += 1
                if (try? result.get()) != Self.block { failures += 1 }
            })

        #expect(made == count)
        #expect(completed.allSatisfy { $0 == 1 })
        #expect(failures == 0)
        #expect(maxInFlight <= depth)
        for i in 0..<count {
            #expect(buffers.load(fromByteOffset: i * Self.block, as: UInt64.self) == UInt64(targets[i]))
        }
    }

    @Test func pipelineEdgeCases() throws {
        let file = try Self.directFile(size: 64 * 4096)
        defer { Self.close(file) }
        let ring = try Ring(entries: 4)
        var calls = 0
        ring.pipeline(
            count: 0, depth: 8,
            make: { _ in
                calls += 1; return .fsync(fd: file.fd)
            }, complete: { _, _ in calls += 1 })
        #expect(calls == 0)
        #expect(ring.perform([]).isEmpty)

        // A depth beyond the SQ is clamped to it; every operation still completes exactly once.
        let buffer = Self.alignedBuffer(64 * 4096)
        defer { buffer.deallocate() }
        var completed = Set<Int>()
        var inFlight = 0
        var maxInFlight = 0
        ring.pipeline(
            count: 64, depth: 1000,
            make: { i in
                inFlight += 1
                maxInFlight = max(maxInFlight, inFlight)
                return .read(
                    fd: file.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[i * 4096..<(i + 1) * 4096]),
                    offset: Int64(i * 4096))
            },
            complete: { i, result in
                inFlight -= 1
                #expect(completed.insert(i).inserted)
                #expect((try? result.get()) == 4096)
            })
        #expect(completed.count == 64)
        #expect(maxInFlight <= ring.entries)
    }

    /// A stream whose source runs dry now and then: operations are numbered in the order given,
    /// each completes once, the source may wait only when nothing is in flight, and `.end` ends it
    /// after what is in flight.
    @Test func streamIdlesWaitsAndEnds() throws {
        let file = try Self.directFile()
        defer { Self.close(file) }
        let ring = try Ring()
        let blocks = 256
        try Self.fillNumberedBlocks(ring, fd: file.fd, blocks: blocks)
        let count = 300
        let depth = 8
        let buffers = Self.alignedBuffer(count * Self.block)
        defer { buffers.deallocate() }
        var given = 0
        var asks = 0
        var inFlight = 0
        var maxInFlight = 0
        var waitsAllowed = 0
        var completed = [Int](repeating: 0, count: count)
        var wrongBlocks = 0
        ring.stream(
            depth: depth,
            next: { mayWait in
                asks += 1
                #expect(mayWait == (inFlight == 0))
                if mayWait { waitsAllowed += 1 }
                guard given < count else { return .end }
                // Dry on every third ask unless the source may wait (it would block for more then).
                if asks % 3 == 0 && !mayWait { return .idle }
                let i = given
                given += 1
                inFlight += 1
                maxInFlight = max(maxInFlight, inFlight)
                return .operation(
                    .read(
                        fd: file.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffers[i * Self.block..<(i + 1) * Self.block]),
                        offset: Int64(i % blocks * Self.block)))
            },
            complete: { i, result in
                inFlight -= 1
                completed[i] += 1
                if (try? result.get()) != Self.block || buffers.load(fromByteOffset: i * Self.block, as: UInt64.self) != UInt64(i % blocks) {
                    wrongBlocks += 1
                }
            })
        #expect(given == count)
        #expect(completed.allSatisfy { $0 == 1 })
        #expect(wrongBlocks == 0)
        #expect(inFlight == 0)
        #expect(maxInFlight <= depth)
        #expect(waitsAllowed >= 1)
    }

    @Test func readPastEndOfFileIsShortNotAnError() throws {
        let file = try Self.directFile(size: 8192)
        defer { Self.close(file) }
        let ring = try Ring(entries: 4)
        let buffer = Self.alignedBuffer(8192)
        defer { buffer.deallocate() }
        let results = ring.perform([
            .read(fd: file.fd, buffer: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<4096]), offset: 8192),
            .read(fd: file.fd, buffer: buffer, offset: 4096),
        ])
        #expect(try results[0].get() == 0)
        #expect(try results[1].get() == 4096)
    }

    @Test func injectedWriteFaultFailsOnlyThatOperation() throws {
        let file = try Self.directFile()
        defer { Self.close(file) }
        let ring = try Ring(entries: 8)
        let buffer = Self.alignedBuffer(3 * Self.block)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 7)
        let slices = (0..<3).map { UnsafeRawBufferPointer(rebasing: buffer[$0 * Self.block..<($0 + 1) * Self.block]) }

        Syscalls.injectFault(call: "io_uring write", errno: EIO, fd: file.fd)
        let results = ring.perform([
            .write(fd: file.fd, buffer: slices[0], offset: 0),
            .write(fd: file.fd, buffer: slices[1], offset: 4096),
            .fdatasync(fd: file.fd),
            .write(fd: file.fd, buffer: slices[2], offset: 8192),
        ])
        #expect(results[0] == .failure(SyscallError(call: "io_uring write", errno: EIO)))
        #expect(try results[1].get() == Self.block)
        #expect(try results[2].get() == 0)
        #expect(try results[3].get() == Self.block)
        // The failed write was never submitted: its block is still a hole.
        let check = Self.alignedBuffer(Self.block)
        defer { check.deallocate() }
        check.initializeMemory(as: UInt8.self, repeating: 0xFF)
        #expect(try ring.perform([.read(fd: file.fd, buffer: check, offset: 0)])[0].get() == Self.block)
        #expect(check.allSatisfy { $0 == 0 })
    }

    @Test func kernelErrorsBecomeTypedFailures() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let fd = try Syscalls.open(directory.path, flags: O_RDONLY | O_DIRECTORY)
        defer { Syscalls.close(fd) }
        let ring = try Ring(entries: 4)
        let buffer = Self.alignedBuffer(Self.block)
        defer { buffer.deallocate() }
        // The errno comes back in the CQE and becomes the operation's typed failure.
        let results = ring.perform([.read(fd: fd, buffer: buffer, offset: 0)])
        #expect(results[0] == .failure(SyscallError(call: "io_uring read", errno: EISDIR)))
    }

    @Test func userDataPacksIndexAndKind() {
        for (index, kind) in [(0, UserData.Kind.read), (12345, .write), (UserData.maxIndex, .fdatasync), (7, .fsync)] {
            let packed = UserData(raw: UserData(index: index, kind: kind).raw)
            #expect(packed.index == index)
            #expect(packed.kind == kind)
        }
    }
}

@Suite struct RingPoolTests {
    @Test func aThreadGetsItsRingBack() {
        let pool = RingPool(entries: 8, maxIdle: 4)
        let first = pool.withRing { ObjectIdentifier($0) }
        let second = pool.withRing { ObjectIdentifier($0) }
        #expect(first == second)
    }

    @Test func bodyErrorsPropagateAndTheRingReturns() {
        struct Boom: Error {}
        let pool = RingPool(entries: 8)
        var seen: ObjectIdentifier?
        #expect(throws: Boom.self) {
            try pool.withRing { (ring: Ring) throws(Boom) -> Void in
                seen = ObjectIdentifier(ring)
                throw Boom()
            }
        }
        #expect(pool.withRing { ObjectIdentifier($0) } == seen)
    }

    @Test func fourThreadsShareOnePool() throws {
        let file = try RingTests.directFile()
        defer { RingTests.close(file) }
        let pool = RingPool(entries: 16, maxIdle: 2)
        let threads = 4
        let blocksPerThread = 64
        try pool.withRing { try RingTests.fillNumberedBlocks($0, fd: file.fd, blocks: threads * blocksPerThread) }

        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let buffer = RingTests.alignedBuffer(RingTests.block)
            defer { buffer.deallocate() }
            for round in 0..<50 {
                let block = t * blocksPerThread + round % blocksPerThread
                let ok = pool.withRing { ring in
                    let result = ring.perform([
                        .read(fd: file.fd, buffer: buffer, offset: Int64(block * RingTests.block))
                    ])
                    return (try? result[0].get()) == RingTests.block
                        && buffer.load(as: UInt64.self) == UInt64(block)
                }
                if !ok { failures.add(1, ordering: .relaxed) }
            }
        }
        #expect(failures.load(ordering: .relaxed) == 0)
    }
}
