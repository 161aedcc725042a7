import Foundation
import Logging
import Testing

// What a buffered upload stages counts against the cache's capacity; an upload that finds no room
// continues through the direct writer with the space it already reserved (nothing reserved twice,
// nothing released in between).
@testable import Engine

@Suite struct StagingTests {
    @Test(arguments: [true, false])
    func anUploadThatFindsTheCacheFullContinuesToDiskWithItsReservation(declared: Bool) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Engine.open(
            dataDirectory: dir.appending(path: "data").path, logger: Logger(label: "staging-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
            cacheBytes: 16 << 20)
        defer { engine.shutdown() }
        _ = try engine.addDevice(path: try Scratch.file(dir, "a.img", size: 64 << 20), label: nil, force: false)
        let size = 3 << 20  // Under a quarter of the cache: staged (1 MiB of frames at a time), until there is no room.
        // The volume holds exactly this object: reserving any of it twice would be a 507.
        _ = try engine.createVolume(name: "tight", capacityBytes: Int64(size), replicas: 1, provisioning: .thin)
        let data = Scratch.randomBytes(size)
        let upload = try engine.beginBufferedUpload(
            volume: "tight", key: "k", contentType: nil, length: declared ? Int64(size) : nil, mode: .replace)!
        try data.withUnsafeBytes { bytes in
            try upload.append(UnsafeRawBufferPointer(rebasing: bytes[0..<(1536 << 10)]))
            // Everything else in the cache is now taken by others' staged uploads.
            #expect(engine.holdStaging(engine.pageCache.capacityPages, writeBack: false) == false)
            let free = engine.pageCache.state.withLock { engine.pageCache.capacityPages - $0.pageCount - $0.staged }
            #expect(engine.holdStaging(free, writeBack: false))
            try upload.append(UnsafeRawBufferPointer(rebasing: bytes[(1536 << 10)...]))
            engine.unstage(free)
        }
        let info = try upload.finish(sync: false)
        #expect(info.size == Int64(size))
        let volume = try engine.volume(named: "tight")
        #expect(volume.usedBytes == Int64(size), "the upload went to disk: committed at once")
        #expect(engine.reservationFigures().accounted == 0)
        #expect(engine.space.inflightPhysical == 0)
        let reader = try engine.openObject(volume: "tight", key: "k")
        defer { reader.close() }
        #expect(try Scratch.readAll(count: size) { try reader.read(at: $0, into: $1) } == data)
    }
}
