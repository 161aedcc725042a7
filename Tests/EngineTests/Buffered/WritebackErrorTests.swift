import Foundation
import Glibc
import Testing

// An IO error during writeback is reported by the next flush and counted, and the data stays
// dirty (and readable) for a retry: never silently dropped.
@testable import Engine

@Suite struct WritebackErrorTests {
    @Test func aFailedWritebackIsReportedAndRetried() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 1, volume: "wbvol")
        defer { engine.shutdown() }
        let data = Scratch.randomBytes(100_000)
        try Scratch.bufferedUpload(engine, "wbvol", "k", data, sync: false)
        let reserved = try engine.cacheStats(volume: "wbvol").reservedBytes
        #expect(reserved > 0)

        // The fault is for this engine's device only (writeback writes on threads of its own).
        let fd = try #require(engine.devices.device(id: devices[0].id)?.fd)
        Syscalls.injectFault(call: "io_uring write", errno: EIO, fd: fd)
        #expect(throws: EngineError.self) { try engine.flushVolume(named: "wbvol") }
        let failed = try engine.cacheStats(volume: "wbvol")
        #expect(failed.dirtyPages > 0, "the data stays dirty")
        #expect(failed.reservedBytes == reserved, "and keeps its reservation")
        #expect(failed.writebackErrors == 1)
        #expect(engine.reservationFigures().pagesReserved == engine.reservationFigures().accounted)
        #expect(try engine.pool().allocatedBytes == 0, "nothing of the failed writeback stays allocated")

        let reader = try engine.openBuffered(volume: "wbvol", key: "k")
        var back = [UInt8](repeating: 0, count: data.count)
        let n = try back.withUnsafeMutableBytes { try reader.read(at: 0, into: $0) }
        reader.close()
        #expect(n == data.count && back == data, "still readable from the cache")

        try engine.flushVolume(named: "wbvol")
        let clean = try engine.cacheStats(volume: "wbvol")
        #expect(clean.dirtyPages == 0)
        #expect(clean.reservedBytes == 0)
        let direct = try engine.openObject(volume: "wbvol", key: "k")
        defer { direct.close() }
        #expect(try Scratch.readAll(count: data.count) { try direct.read(at: $0, into: $1) } == data)
    }
}
