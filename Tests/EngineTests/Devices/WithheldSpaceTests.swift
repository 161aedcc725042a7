import Foundation
import Testing

// A device that takes no new allocations (readonly, draining, failed) takes its free space out of
// what writes may be admitted to, and cannot be switched off while the writes already accepted
// would no longer fit: an accepted write never fails at writeback for lack of space. (The contract
// fuzzer found this: devices set readonly under cached async writes, whose writeback then failed
// with 507, even on a GET.)
@testable import Engine

@Suite struct WithheldSpaceTests {
    static func isNoSpace(_ error: any Error) -> Bool {
        if case EngineError.noSpace = error { return true }
        return false
    }

    @Test func switchingDevicesOffNeverStrandsAcceptedWrites() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, deviceSize: 64 << 20, volume: "vol", capacity: 120 << 20)
        defer { engine.shutdown() }
        let (a, b) = (devices[0].id, devices[1].id)
        let data = Scratch.splitMixBytes(40 << 20, seed: 3)
        try Scratch.bufferedUpload(engine, "vol", "cached", data, sync: false)  // 40 MiB reserved, in the cache
        _ = try engine.setDeviceState(id: a, to: .readonly)  // b alone still holds it
        #expect(throws: EngineError.self, "b cannot go too: the cached 40 MiB would have nowhere to go") {
            _ = try engine.setDeviceState(id: b, to: .readonly)
        }
        #expect(try engine.device(id: b).state == .active)
        // Admission now counts b's free space only.
        #expect { try Scratch.bufferedUpload(engine, "vol", "more", Scratch.splitMixBytes(30 << 20, seed: 4), sync: false) } throws: {
            Self.isNoSpace($0)
        }
        try engine.flushVolume(named: "vol")
        #expect(try Scratch.readObject(engine, "vol", "cached") == data)
        #expect(engine.spaceAudit().isEmpty)
        // With nothing in flight, b may go readonly; then nothing more is admitted.
        _ = try engine.setDeviceState(id: b, to: .readonly)
        #expect { try Scratch.bufferedUpload(engine, "vol", "none", [1, 2, 3], sync: false) } throws: { Self.isNoSpace($0) }
        _ = try engine.setDeviceState(id: a, to: .active)
        try Scratch.bufferedUpload(engine, "vol", "again", [1, 2, 3], sync: true)

        // An overwrite of data already on disk reserves nothing; with it dirty, the last active
        // device stays active.
        _ = try engine.setDeviceState(id: b, to: .active)
        _ = try engine.setDeviceState(id: a, to: .readonly)
        try Scratch.bufferedUpload(engine, "vol", "cached", [9, 9, 9, 9], mode: .patch(offset: 100), sync: false)
        #expect { _ = try engine.setDeviceState(id: b, to: .readonly) } throws: { Self.isNoSpace($0) }
        try engine.flushVolume(named: "vol")
        var expected = data
        expected.replaceSubrange(100..<104, with: [9, 9, 9, 9])
        #expect(try Scratch.readObject(engine, "vol", "cached") == expected)
    }

    /// A write that reserves nothing (a PATCH over sectors on disk) still needs an active device to
    /// be written back to, and a 2-replica write two of them: without them it is refused up front
    /// (it was accepted, and its writeback then failed with 507 over and over).
    @Test func aWriteWithNowhereToGoIsRefusedBeforeItsFirstByte() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, deviceSize: 64 << 20, volume: "vol", capacity: 32 << 20)
        defer { engine.shutdown() }
        _ = try engine.createVolume(name: "mirror", capacityBytes: 8 << 20, replicas: 2, provisioning: .thin)
        let data = Scratch.splitMixBytes(20_000, seed: 5)
        try Scratch.upload(engine, "vol", "k", data)
        try Scratch.upload(engine, "mirror", "m", data)
        _ = try engine.setDeviceState(id: devices[0].id, to: .readonly)
        // One active device: a 2-replica volume takes no write of any kind, a 1-replica one does.
        for sync in [false, true] {
            #expect { try Scratch.bufferedUpload(engine, "mirror", "m", [7, 7], mode: .patch(offset: 10), sync: sync) } throws: { Self.isNoSpace($0) }
            #expect { try Scratch.bufferedUpload(engine, "mirror", "new", [7, 7], sync: sync) } throws: { Self.isNoSpace($0) }
        }
        #expect { try Scratch.upload(engine, "mirror", "m", [1]) } throws: { Self.isNoSpace($0) }
        try Scratch.bufferedUpload(engine, "vol", "k", [7, 7], mode: .patch(offset: 10), sync: false)
        try engine.flushVolume(named: "vol")
        // None active: nothing is accepted, not even a PATCH that reserves nothing.
        _ = try engine.setDeviceState(id: devices[1].id, to: .readonly)
        #expect { try Scratch.bufferedUpload(engine, "vol", "k", [8, 8], mode: .patch(offset: 0), sync: false) } throws: { Self.isNoSpace($0) }
        #expect(engine.pageCache.state.withLock { $0.dirtyPages } == 0, "nothing was left dirty")
        var expected = data
        expected.replaceSubrange(10..<12, with: [7, 7])
        #expect(try Scratch.readObject(engine, "vol", "k") == expected)
        #expect(try Scratch.readObject(engine, "mirror", "m") == data)
        // Empty objects need no device.
        try Scratch.upload(engine, "vol", "empty", [])
        #expect(try engine.flushVolume(named: "vol") == ())
    }
}
