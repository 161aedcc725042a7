// Drain, failed devices and replacing one: a drain under concurrent load with every object
// verified after, a drain interrupted by a restart (it resumes), a drain that cannot fit (507,
// nothing changed), a 2-replica volume with one device failed by injected EIO rebuilt onto a third
// device once one is added, and a forced removal of a dead device (refused while it holds the only
// copy of something).
import Catalog
import Foundation
import Glibc
import Synchronization
import Testing

@testable import Engine

@Suite struct DrainTests {
    static func waitUntil(_ seconds: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }

    static func addDevice(_ engine: Engine, _ dir: URL, _ name: String, size: Int64 = 128 << 20) throws -> DeviceInfo {
        try engine.addDevice(path: try Scratch.file(dir, name, size: size), label: nil, force: false)
    }

    static func verifyAll(_ engine: Engine, _ expected: [String: [UInt8]], volume: String = "vol") throws {
        for (key, data) in expected { #expect(try Scratch.readObject(engine, volume, key) == data, "\(key)") }
    }

    @Test func aDrainUnderLoadMovesEveryCopyAndTheDeviceCanGo() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", capacity: 120 << 20, replicas: 2)
        defer { engine.shutdown() }
        var expected: [String: [UInt8]] = [:]
        for i in 0..<16 {
            let data = Scratch.splitMixBytes(i % 4 == 0 ? (5 << 20) + i : 70_000 + i * 1000, seed: UInt64(i))
            try Scratch.upload(engine, "vol", "k\(i)", data)
            expected["k\(i)"] = data
        }
        let target = devices[0].id
        #expect(try engine.device(id: target).remainingBytes > 0)
        let drained = try engine.setDeviceState(id: target, to: .draining)
        #expect(drained.state == .draining)

        // Clients keep writing (new keys and overwrites) and reading while the drain runs.
        let written = Mutex<[String: [UInt8]]>([:])
        let failures = Mutex<[String]>([])
        let done = DispatchGroup()
        for client in 0..<2 {
            done.enter()
            Thread {
                defer { done.leave() }
                for round in 0..<12 {
                    let key = round % 3 == 0 ? "k\(client * 5 + round % 5)" : "new-\(client)-\(round)"
                    let data = Scratch.splitMixBytes(50_000 + round * 3000, seed: UInt64(1000 + client * 100 + round))
                    do {
                        try Scratch.upload(engine, "vol", key, data)
                        written.withLock { $0[key] = data }
                        _ = try Scratch.readObject(engine, "vol", "k\(15 - round)")
                    } catch {
                        failures.withLock { $0.append("\(key): \(error)") }
                    }
                }
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        for (key, data) in written.withLock({ $0 }) { expected[key] = data }
        #expect(try Self.waitUntil { try engine.device(id: target).remainingBytes == 0 }, "the drain did not finish")
        #expect(try engine.device(id: target).movedBytes > 0)
        try Self.verifyAll(engine, expected)
        // Every copy still on a distinct device.
        let volumeID = try engine.volumeRecord(named: "vol").id!
        for key in expected.keys {
            for extent in try #require(try engine.catalog.object(volumeID: volumeID, key: key)).extents {
                #expect(Set(extent.replicas.map(\.deviceId)).count == 2)
                #expect(!extent.replicas.contains { $0.deviceId == target })
            }
        }
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(engine.spaceAudit().isEmpty)
        #expect(try engine.spaceRecount() == engine.spaceCounters())
        try engine.removeDevice(id: target)
        #expect(try engine.listDevices().count == 2)
    }

    @Test func aDrainInterruptedByARestartResumes() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", capacity: 120 << 20, replicas: 1)
        var expected: [String: [UInt8]] = [:]
        for i in 0..<12 {
            let data = Scratch.splitMixBytes((4 << 20) + i * 4096, seed: UInt64(50 + i))
            try Scratch.upload(engine, "vol", "k\(i)", data)
            expected["k\(i)"] = data
        }
        let target = devices[0].id
        let before = try engine.device(id: target).remainingBytes
        #expect(before > 0)
        _ = try engine.setDeviceState(id: target, to: .draining)
        engine.shutdown()  // at once: the drain stops part way, or before it began

        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(try engine.device(id: target).state == .draining)
        #expect(try Self.waitUntil { try engine.device(id: target).remainingBytes == 0 }, "the drain did not resume")
        try Self.verifyAll(engine, expected)
        #expect(engine.check(verifyData: true).problems.isEmpty)
        #expect(engine.spaceAudit().isEmpty)
        // Cancelling: back to active, allocations may go there again.
        #expect(try engine.setDeviceState(id: target, to: .active).state == .active)
        _ = devices
    }

    @Test func aDrainThatCannotFitIsRefusedAndChangesNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, deviceSize: 64 << 20, volume: "vol", capacity: 120 << 20, replicas: 1)
        defer { engine.shutdown() }
        for i in 0..<10 { try Scratch.upload(engine, "vol", "k\(i)", Scratch.splitMixBytes(8 << 20, seed: UInt64(i))) }
        let target = devices[0].id
        let held = try engine.device(id: target).usedBytes
        #expect(held > 30 << 20)
        #expect {
            _ = try engine.setDeviceState(id: target, to: .draining)
        } throws: { error in
            guard case EngineError.noSpace = error else { return false }
            return true
        }
        #expect(try engine.device(id: target).state == .active)
        #expect(try engine.device(id: target).usedBytes == held)
        #expect(try engine.device(id: target).movedBytes == 0)

        // A 2-replica volume on two devices: nowhere to put the second copies.
        _ = try engine.createVolume(name: "pair", capacityBytes: 8 << 20, replicas: 2, provisioning: .thin)
        #expect(throws: EngineError.self) { _ = try engine.setDeviceState(id: devices[1].id, to: .draining) }
        #expect(try engine.device(id: devices[1].id).state == .active)
    }

    @Test func aFailedDeviceOfATwoReplicaVolumeIsRebuiltOntoAThirdDevice() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", capacity: 60 << 20, replicas: 2)
        defer { engine.shutdown() }
        var expected: [String: [UInt8]] = [:]
        for i in 0..<6 {
            let data = Scratch.splitMixBytes(300_000 + i * 5000, seed: UInt64(200 + i))
            try Scratch.upload(engine, "vol", "k\(i)", data)
            expected["k\(i)"] = data
        }
        // Reads try the copies in device-id order: fail the first device's reads with EIO.
        let dying = devices.map(\.id).min()!
        let fd = try #require(engine.devices.device(id: dying)?.fd)
        var reads = 0
        while engine.devices.failureReason(id: dying) == nil, reads < 200 {
            Syscalls.injectFault(call: "io_uring read", errno: EIO, fd: fd)
            #expect(try Scratch.readObject(engine, "vol", "k\(reads % 6)") == expected["k\(reads % 6)"])
            reads += 1
        }
        Syscalls.clearFault(call: "io_uring read")  // nothing left armed for a number the fd may get again
        #expect(try engine.device(id: dying).state == .failed)
        #expect(try engine.pool().degradedBytes > 0)
        try Self.verifyAll(engine, expected)  // served from the other copies

        // With no third device the rebuild has nowhere to go; adding one lets it finish.
        engine.waitForScrubAndRepairs()
        _ = try Self.addDevice(engine, dir, "c.img")
        #expect(try Self.waitUntil { try engine.pool().degradedBytes == 0 }, "the rebuild did not finish")
        #expect(try engine.device(id: dying).remainingBytes == 0)
        try Self.verifyAll(engine, expected)
        #expect(engine.check(verifyData: true).problems.filter { !$0.contains(dying) }.isEmpty)
        #expect(engine.spaceAudit().isEmpty)
        try engine.removeDevice(id: dying, force: true)
        #expect(try engine.listDevices().count == 2)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    @Test func aForcedRemovalOfADeadDeviceNamesWhatWouldBeLost() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", capacity: 60 << 20, replicas: 2)
        _ = try engine.createVolume(name: "single", capacityBytes: 30 << 20, replicas: 1, provisioning: .thin)
        var expected: [String: [UInt8]] = [:]
        for i in 0..<6 {
            let data = Scratch.splitMixBytes(200_000 + i, seed: UInt64(300 + i))
            try Scratch.upload(engine, "vol", "k\(i)", data)
            expected["k\(i)"] = data
            try Scratch.upload(engine, "single", "s\(i)", data)
        }
        // The disk holding s0's only copy dies while the appliance is down: missing at start.
        let singleID = try engine.volumeRecord(named: "single").id!
        let holder = try #require(try engine.catalog.object(volumeID: singleID, key: "s0")).extents[0].replicas[0].deviceId
        let dead = try #require(devices.first { $0.id == holder })
        engine.shutdown()
        try FileManager.default.removeItem(atPath: dead.path)
        engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        #expect(try engine.device(id: dead.id).state == .failed)
        engine.waitForScrubAndRepairs()
        let sole = try engine.catalog.soleCopies(onDevices: [dead.id], limit: 10)
        #expect(sole.bytes > 0, "some single-copy objects lived on the dead device")
        #expect {
            try engine.removeDevice(id: dead.id, force: true)
        } throws: { error in
            guard case EngineError.deviceHoldsSoleCopies(_, let bytes, let objects) = error else { return false }
            return bytes == sole.bytes && objects.allSatisfy { $0.hasPrefix("single/") } && !objects.isEmpty
        }
        #expect(try engine.listDevices().count == 3)
        // The 2-replica volume was rebuilt onto the third device in the background meanwhile.
        #expect(Self.waitUntil { !engine.evacuator.running })
        let volumeID = try engine.volumeRecord(named: "vol").id!
        for key in expected.keys {
            for extent in try #require(try engine.catalog.object(volumeID: volumeID, key: key)).extents {
                #expect(Set(extent.replicas.map(\.deviceId)).count == 2)
                #expect(!extent.replicas.contains { $0.deviceId == dead.id }, "\(key) still has a copy on the dead device")
            }
        }
        try Self.verifyAll(engine, expected)
        _ = devices
    }

    @Test func aDrainMovesTheWaitingPartsOfAMultipartUploadToo() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 3, volume: "vol", capacity: 60 << 20, replicas: 2)
        defer { engine.shutdown() }
        let upload = try engine.createUpload(volume: "vol", key: "big", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        let one = Scratch.splitMixBytes(MultipartTests.partSize, seed: 1)
        let two = Scratch.splitMixBytes(1000, seed: 2)
        let e1 = try MultipartTests.upload(engine, "vol", "big", upload.id, number: 1, one)
        let e2 = try MultipartTests.upload(engine, "vol", "big", upload.id, number: 2, two)
        let target = try #require(devices.first { (try? engine.device(id: $0.id).usedBytes) ?? 0 > 0 }).id
        _ = try engine.setDeviceState(id: target, to: .draining)
        #expect(try Self.waitUntil { try engine.device(id: target).remainingBytes == 0 }, "the parts were not moved")
        #expect(engine.check(verifyData: true).problems.isEmpty)
        _ = try engine.completeUpload(
            volume: "vol", key: "big", uploadID: upload.id, parts: [(1, e1), (2, e2)], minimumPartSize: Int64(MultipartTests.partSize),
            combine: MultipartTests.combine)
        #expect(try Scratch.readObject(engine, "vol", "big") == one + two)
        #expect(engine.spaceAudit().isEmpty)
        try engine.removeDevice(id: target)
    }

    @Test func aForcedRemovalThatFailsLeavesTheDeviceTakingAllocations() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, devices) = try Scratch.engine(dir, devices: 2, volume: "vol", capacity: 60 << 20, replicas: 2)
        defer { engine.shutdown() }
        try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(100_000, seed: 1))
        // Nowhere to put the second copies: refused, and the device is active as before.
        #expect(throws: EngineError.self) { try engine.removeDevice(id: devices[0].id, force: true) }
        #expect(try engine.device(id: devices[0].id).state == .active)
        try Scratch.upload(engine, "vol", "after", Scratch.splitMixBytes(100_000, seed: 2))
        #expect(try Scratch.readObject(engine, "vol", "k") == Scratch.splitMixBytes(100_000, seed: 1))
    }
}
