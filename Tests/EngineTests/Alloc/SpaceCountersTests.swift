// The space counters (pool, devices, volumes) against a fresh recount from the catalog's rows,
// after random PUT / PATCH / DELETE / overwrite / volume delete, buffered and direct, thin and
// thick, 1 and 2 replicas; after a restart; and after many threads at once. And admission over the
// lock-free fast path: concurrent uploads never together overfill the pool.
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct SpaceCountersTests {
    static func expectCountersMatchRecount(_ engine: Engine, _ when: String) throws {
        let counters = engine.spaceCounters()
        let recount = try engine.spaceRecount()
        #expect(counters == recount, "\(when): counters \(counters) recount \(recount)")
    }

    static let volumes: [(name: String, replicas: Int64, provisioning: Provisioning)] = [
        ("thin1", 1, .thin), ("thin2", 2, .thin), ("thick1", 1, .thick), ("thick2", 2, .thick),
    ]

    static func createVolume(_ engine: Engine, _ volume: (name: String, replicas: Int64, provisioning: Provisioning)) throws {
        _ = try engine.createVolume(name: volume.name, capacityBytes: 8 << 20, replicas: volume.replicas, provisioning: volume.provisioning)
    }

    /// One random operation on one of the volumes; refusals (no space, no such key) are fine.
    static func step(_ engine: Engine, rng: inout SplitMix) throws {
        let volume = volumes.randomElement(using: &rng)!
        let key = "k\(Int.random(in: 0..<6, using: &rng))"
        let size = [0, 1, 4095, 4096, 4097, 70_000, 300_000].randomElement(using: &rng)!
        let data = Scratch.splitMixBytes(size, seed: rng.next())
        do {
            switch Int.random(in: 0..<12, using: &rng) {
            case 0..<3:
                try Scratch.upload(engine, volume.name, key, data, cacheThrough: Bool.random(using: &rng))
            case 3..<6:
                try Scratch.bufferedUpload(engine, volume.name, key, data, sync: Bool.random(using: &rng))
            case 6..<8:
                let offset = Int64.random(in: 0..<200_000, using: &rng)
                try Scratch.bufferedUpload(
                    engine, volume.name, key, Array(data.prefix(20_000)), mode: .patch(offset: offset), sync: Bool.random(using: &rng))
            case 8..<10:
                try engine.deleteObject(volume: volume.name, key: key)
            case 10:
                try engine.flushVolume(named: volume.name)
            default:
                if Int.random(in: 0..<4, using: &rng) == 0 {
                    try engine.deleteVolume(named: volume.name, force: true)
                    try createVolume(engine, volume)
                } else {
                    try engine.flushVolume(named: volume.name)
                }
            }
        } catch EngineError.objectNotFound, EngineError.noSpace {
        }
    }

    @Test(arguments: [UInt64(3), 17, 41])
    func countersEqualARecountAfterRandomWorkloads(seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        for i in 0..<2 { _ = try engine.addDevice(path: try Scratch.file(dir, "\(i).img", size: 64 << 20), label: nil, force: false) }
        for volume in Self.volumes { try Self.createVolume(engine, volume) }
        try Self.expectCountersMatchRecount(engine, "after creating the volumes")
        var rng = SplitMix(state: seed)
        for i in 0..<120 {
            try Self.step(engine, rng: &rng)
            // Async writes are in the cache only: the catalog (and so the counters) change at writeback.
            try Self.expectCountersMatchRecount(engine, "after step \(i)")
        }
        for volume in Self.volumes { try engine.flushVolume(named: volume.name) }
        try Self.expectCountersMatchRecount(engine, "after a flush")
        let before = engine.spaceCounters()
        engine.shutdown()

        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        #expect(reopened.spaceCounters() == before, "a restart rebuilds the same counters")
        try Self.expectCountersMatchRecount(reopened, "after a restart")
        var more = SplitMix(state: seed &+ 1)
        for _ in 0..<30 { try Self.step(reopened, rng: &more) }
        try Self.expectCountersMatchRecount(reopened, "after more steps on the reopened engine")
    }

    /// A start counts each device's allocation from the scan that rebuilds its free space (not a
    /// second scan): objects on two replicas, inline ones, and the parts of an upload not yet
    /// completed all count, on the right devices.
    @Test func aStartCountsEveryReplicaOnItsDeviceOnce() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, devices) = try Scratch.engine(dir, devices: 3, deviceSize: 64 << 20, volume: "two", capacity: 32 << 20, replicas: 2)
        _ = try engine.createVolume(name: "one", capacityBytes: 16 << 20, replicas: 1, provisioning: .thin)
        for i in 0..<12 {
            try Scratch.upload(engine, i % 2 == 0 ? "two" : "one", "o\(i)", Scratch.splitMixBytes(30_000 + i * 4096, seed: UInt64(i + 1)))
            try Scratch.bufferedUpload(engine, "two", "small\(i)", Scratch.splitMixBytes(1000 + i, seed: UInt64(100 + i)), sync: true)
        }
        let upload = try engine.createUpload(volume: "two", key: "parts", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        for number in Int64(1)...2 {
            _ = try MultipartTests.upload(engine, "two", "parts", upload.id, number: number, Scratch.splitMixBytes(70_000, seed: UInt64(number)))
        }
        try engine.deleteObject(volume: "one", key: "o1")
        let before = engine.spaceCounters()
        #expect(devices.allSatisfy { before.devices[$0.id]!.allocatedBytes > 0 })
        engine.shutdown()

        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(engine.spaceCounters() == before, "a restart rebuilds the same counters")
        try Self.expectCountersMatchRecount(engine, "after a restart")
        devices = try engine.listDevices()
        #expect(devices.map(\.usedBytes).reduce(0, +) == before.allocatedBytes)
    }

    @Test func theAPIFiguresAreTheCounters() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 64 << 20, volume: "vol", replicas: 2)
        defer { engine.shutdown() }
        _ = try engine.createVolume(name: "thick", capacityBytes: 4 << 20, replicas: 1, provisioning: .thick)
        try Scratch.upload(engine, "vol", "a", Scratch.splitMixBytes(10_000))
        try Scratch.upload(engine, "thick", "b", Scratch.splitMixBytes(100_000))
        let counters = engine.spaceCounters()
        let pool = try engine.pool()
        #expect(pool.allocatedBytes == counters.allocatedBytes && pool.reservedBytes == counters.reservedBytes)
        #expect(pool.freeBytes == counters.capacityBytes - counters.allocatedBytes - counters.reservedBytes)
        #expect(pool.allocatedBytes == 2 * 12_288 + 102_400)
        #expect(pool.reservedBytes == (4 << 20) - 102_400)
        let v = try engine.volume(named: "vol")
        #expect(v.usedBytes == 10_000 && v.objectCount == 1)
        for device in try engine.listDevices() {
            #expect(device.usedBytes == counters.devices[device.id]?.allocatedBytes)
        }
        #expect(try engine.listDevices().map(\.usedBytes).reduce(0, +) == pool.allocatedBytes)
    }

    /// Many threads upload into a pool too small for all of them, through the fast path: what
    /// was accepted fits, the refused got 507 up front, and the counters match the catalog.
    @Test func concurrentUploadsNeverOverfillThePool() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: 64 << 20, volume: "vol", capacity: 1 << 30)
        defer { engine.shutdown() }
        let accepted = Atomic<Int>(0)
        let refused = Atomic<Int>(0)
        let unexpected = Mutex<[String]>([])
        let done = DispatchGroup()
        for t in 0..<8 {
            done.enter()
            Thread {
                defer { done.leave() }
                let data = Scratch.splitMixBytes(300_000, seed: UInt64(t))
                for i in 0..<40 {
                    do {
                        if i % 2 == 0 {
                            try Scratch.upload(engine, "vol", "t\(t)-\(i)", data)
                        } else {
                            try Scratch.bufferedUpload(engine, "vol", "t\(t)-\(i)", data, sync: i % 4 == 1)
                        }
                        accepted.add(1, ordering: .relaxed)
                    } catch EngineError.noSpace {
                        refused.add(1, ordering: .relaxed)
                    } catch {
                        unexpected.withLock { $0.append("\(error)") }
                    }
                }
            }.start()
        }
        done.wait()
        #expect(unexpected.withLock { $0 }.isEmpty, "\(unexpected.withLock { $0 })")
        try engine.flushVolume(named: "vol")  // Writeback never meets ENOSPC: it was all reserved.
        #expect(refused.load(ordering: .relaxed) > 0, "the pool was meant to run out")
        let pool = try engine.pool()
        #expect(pool.allocatedBytes <= pool.capacityBytes)
        #expect(Int64(accepted.load(ordering: .relaxed)) * 303_104 <= pool.capacityBytes)
        try Self.expectCountersMatchRecount(engine, "after the run")
        #expect(engine.reservationFigures().accounted == 0)
        #expect(engine.spaceAudit().isEmpty)
    }
}
