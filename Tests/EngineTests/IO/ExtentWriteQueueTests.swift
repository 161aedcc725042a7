import Foundation
import Glibc
import Testing

// Direct uploads stream their extents through ExtentWriteQueue's WriteStream: many extents on two
// replicas land intact and in logical order, and a write that fails half way through an upload
// fails the upload, leaves the previous version readable, and leaks no space.
@testable import Engine

@Suite struct ExtentWriteQueueTests {
    @Test func manyExtentsOnTwoReplicasRoundTripInOrder() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        let data = Scratch.splitMixBytes(6 * ObjectWriter.extentBytes + 7)  // 7 extents, the last of 7 bytes
        // Appended in pieces that straddle extent boundaries.
        let writer = try engine.beginUpload(volume: "vol", key: "k", contentType: nil, length: nil)
        try data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = min(1_000_003, bytes.count - offset)
                try writer.append(UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n]))
                offset += n
            }
        }
        #expect(try writer.commit().size == Int64(data.count))
        let reader = try engine.openObject(volume: "vol", key: "k")
        defer { reader.close() }
        #expect(try Scratch.readAll(count: data.count) { try reader.read(at: $0, into: $1) } == data)
        #expect(try engine.pool().allocatedBytes >= 2 * Int64(data.count))
    }

    @Test func aWriteFailingMidUploadFailsItAndLeaksNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        let old = Scratch.randomBytes(100_000)
        try Scratch.upload(engine, "vol", "k", old)
        let allocatedBefore = try engine.pool().allocatedBytes

        let data = Scratch.splitMixBytes(5 * ObjectWriter.extentBytes)
        let writer = try engine.beginUpload(volume: "vol", key: "k", contentType: nil, length: Int64(data.count))
        let fd = try #require(engine.devices.device(id: devices[0].id)?.fd)
        // The first write on this device fails; the upload's first extent is already streaming by
        // the time its error can surface (at a later append, or at commit).
        Syscalls.injectFault(call: "io_uring write", errno: EIO, fd: fd)
        #expect(throws: EngineError.self) {
            try data.withUnsafeBytes { try writer.append($0) }
            _ = try writer.commit()
        }
        writer.abort()
        #expect(try engine.pool().allocatedBytes == allocatedBefore, "every extent of the failed upload is freed")
        #expect(engine.stats.snapshot.devices[devices[0].id]?.ioErrors == 1)
        let reader = try engine.openObject(volume: "vol", key: "k")
        defer { reader.close() }
        #expect(try Scratch.readAll(count: old.count) { try reader.read(at: $0, into: $1) } == old, "the old version stays")
    }
}
