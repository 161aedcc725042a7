// The write fence (a fleet's pool whose lease is not held): every write to the pool's devices is
// refused — data through the ring, the catalog through its mirror — as `fenced`, never counted
// against a device and never costing a catalog copy; reads go on; writes work again once held.
import Foundation
import Testing

@testable import Engine

@Suite struct WriteFenceTests {
    @Test func aClosedFenceRefusesEveryWriteButBlamesNoDevice() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        let before = Scratch.splitMixBytes(300_000, seed: 1)
        try Scratch.upload(engine, "vol", "before", before)
        let copies = engine.metadataCopiesStatus

        engine.fence.close("a test closed it")
        #expect(!engine.fence.mayWrite && engine.fence.refusedBecause == "a test closed it")
        for attempt in 0..<20 {  // more than the 16 IO errors that fail a device
            #expect(throws: EngineError.fenced(reason: "a test closed it")) {
                try Scratch.upload(engine, "vol", "during-\(attempt)", Scratch.splitMixBytes(200_000, seed: UInt64(attempt)))
            }
        }
        // A catalog-only change (an inline object's commit) is refused the same way.
        #expect(throws: EngineError.fenced(reason: "a test closed it")) { try Scratch.upload(engine, "vol", "tiny", [1, 2, 3]) }
        #expect(throws: EngineError.self) { _ = try engine.createVolume(name: "www", capacityBytes: 1 << 20, replicas: 1, provisioning: .thin) }
        // Reads go on.
        #expect(try Scratch.readObject(engine, "vol", "before") == before)
        // No device was blamed, no catalog copy dropped.
        let io = try engine.snapshot().io
        for device in devices { #expect((io.devices[device.id]?.ioErrors ?? 0) == 0) }
        #expect(try engine.listDevices().allSatisfy { $0.state == .active })
        #expect(engine.metadataCopiesStatus == copies)

        // Held again until a deadline ahead: writes work; past it, refused again.
        engine.fence.hold(until: WriteFence.now() + 60_000_000_000)
        let after = Scratch.splitMixBytes(250_000, seed: 9)
        try Scratch.upload(engine, "vol", "after", after)
        #expect(try Scratch.readObject(engine, "vol", "after") == after)
        #expect(throws: EngineError.self) { try engine.openObject(volume: "vol", key: "during-0").close() }
        engine.fence.hold(until: WriteFence.now() - 1)
        #expect(!engine.fence.mayWrite)
        #expect(throws: EngineError.self) { try Scratch.upload(engine, "vol", "late", [9, 9, 9, 9]) }
        engine.fence.hold(until: Int64.max)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func theFleetEpochLivesInTheSuperblocks() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol")
        #expect(engine.fleetEpochOnDevices() == 0)
        try engine.writeFleetEpoch(7)
        #expect(engine.fleetEpochOnDevices() == 7)
        let pool = engine.poolUUID
        engine.shutdown()
        // Read back without opening anything: the devices carry the pool and the epoch.
        #expect(try Engine.discoverPool(dataDirectory: dir.appending(path: "data").path, devicePaths: devices.map(\.path)) == pool)
        for device in devices {
            #expect(Engine.deviceCarries(path: device.path, pool: pool.uuidString.lowercased(), device: device.id))
            #expect(!Engine.deviceCarries(path: device.path, pool: UUID().uuidString.lowercased(), device: device.id))
        }
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        #expect(reopened.fleetEpochOnDevices() == 7)
        // A closed fence refuses the epoch's own write too.
        reopened.fence.close("closed")
        #expect(throws: EngineError.fenced(reason: "closed")) { try reopened.writeFleetEpoch(8) }
        #expect(reopened.fleetEpochOnDevices() == 7)
    }
}
