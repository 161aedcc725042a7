import Foundation
import Testing

@testable import Engine

@Suite struct EngineDevicesTests {
    static let mib = Scratch.mebibyte

    @Test func unusablePathsAreRefused() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let missing = dir.appending(path: "missing.img").path
        let small = try Scratch.file(dir, "small.img", size: Self.mib)

        #expect(throws: EngineError.invalidArgument(field: "path", reason: "must be absolute")) {
            try engine.addDevice(path: "relative.img", label: nil, force: false)
        }
        #expect(throws: EngineError.deviceUnusable(path: missing, reason: "it does not exist")) {
            try engine.addDevice(path: missing, label: nil, force: false)
        }
        #expect(throws: EngineError.deviceUnusable(path: dir.path, reason: "it is not a regular file or a block device")) {
            try engine.addDevice(path: dir.path, label: nil, force: true)
        }
        let error = #expect(throws: EngineError.self) { try engine.addDevice(path: small, label: nil, force: true) }
        guard case .deviceUnusable(small, let reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("64 MiB"))
        #expect(try engine.listDevices().isEmpty)
    }

    @Test func sparseFileIsAdded() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img")

        let device = try engine.addDevice(path: path, label: "first", force: false, now: Date(timeIntervalSince1970: 1_700_000_000.7))
        #expect(device.path == path)
        #expect(device.label == "first")
        #expect(device.state == .active)
        #expect(device.capacityBytes == 111 * Self.mib)
        #expect(device.usedBytes == 0)
        #expect([512, 4096].contains(device.logicalBlockSize))
        #expect(device.createdAt == Date(timeIntervalSince1970: 1_700_000_000))
        #expect(try engine.listDevices() == [device])
        #expect(try engine.device(id: device.id) == device)
        #expect(try engine.pool().capacityBytes == 111 * Self.mib)
        let superblock = Superblock(
            poolUUID: engine.poolUUID, deviceUUID: try #require(UUID(uuidString: device.id)), createdAt: 1_700_000_000,
            dataOffset: 17 * Self.mib, deviceSize: 128 * Self.mib, metadataOffset: Self.mib, metadataBytes: 16 * Self.mib)
        #expect(try Scratch.decodedHeader(path) == .superblock(superblock))
    }

    @Test func registeredPathIsInUse() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img")
        let link = dir.appending(path: "link.img").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: path)
        _ = try engine.addDevice(path: path, label: nil, force: false)

        #expect(throws: EngineError.devicePathInUse(path: path)) { try engine.addDevice(path: path, label: nil, force: true) }
        #expect(throws: EngineError.devicePathInUse(path: path)) { try engine.addDevice(path: link, label: nil, force: true) }
        #expect(try engine.listDevices().count == 1)
    }

    @Test func copyOfAMemberIsAlreadyAMember() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img")
        _ = try engine.addDevice(path: path, label: nil, force: false)
        let copy = try Scratch.file(dir, "copy.img", header: try Scratch.header(path))

        #expect(throws: EngineError.deviceAlreadyMember(path: copy)) { try engine.addDevice(path: copy, label: nil, force: true) }
        #expect(try engine.listDevices().map(\.path) == [path])
    }

    @Test func foreignDataNeedsForce() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let original = Scratch.randomBytes(8192)
        let path = try Scratch.file(dir, "dev0.img", header: original)

        #expect(throws: EngineError.deviceForeign(path: path, reason: "holds data that is not an appliance superblock")) {
            try engine.addDevice(path: path, label: nil, force: false)
        }
        #expect(try Scratch.header(path) == Array(original[0..<4096]))
        #expect(try engine.listDevices().isEmpty)

        let device = try engine.addDevice(path: path, label: nil, force: true)
        guard case .superblock(let sb) = try Scratch.decodedHeader(path) else { Issue.record("no superblock written"); return }
        #expect(sb.poolUUID == engine.poolUUID)
        #expect(sb.deviceUUID.uuidString.lowercased() == device.id)
    }

    @Test func memberOfAnotherPoolNeedsForce() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir, "pool-a")
        defer { engine.shutdown() }
        let other = try Scratch.engine(dir, "pool-b")
        defer { other.shutdown() }
        #expect(engine.poolUUID != other.poolUUID)
        let path = try Scratch.file(dir, "dev0.img")
        _ = try other.addDevice(path: path, label: nil, force: false)

        let reason = "belongs to another pool (\(other.poolUUID.uuidString.lowercased()))"
        #expect(throws: EngineError.deviceForeign(path: path, reason: reason)) {
            try engine.addDevice(path: path, label: nil, force: false)
        }
        let device = try engine.addDevice(path: path, label: nil, force: true)
        guard case .superblock(let sb) = try Scratch.decodedHeader(path) else { Issue.record("no superblock written"); return }
        #expect(sb.poolUUID == engine.poolUUID)
        #expect(sb.deviceUUID.uuidString.lowercased() == device.id)
    }

    @Test func removeWipesTheSuperblock() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir, "pool-a")
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img")
        let device = try engine.addDevice(path: path, label: nil, force: false)

        try engine.removeDevice(id: device.id)
        #expect(try engine.listDevices().isEmpty)
        #expect(try Scratch.decodedHeader(path) == .blank)
        #expect(throws: EngineError.deviceNotFound(id: device.id)) { try engine.removeDevice(id: device.id) }

        let other = try Scratch.engine(dir, "pool-b")
        defer { other.shutdown() }
        #expect(try other.addDevice(path: path, label: nil, force: false).path == path)
    }

    @Test func deviceNeededByAVolumeStays() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let first = try engine.addDevice(path: try Scratch.file(dir, "dev0.img"), label: nil, force: false)
        _ = try engine.addDevice(path: try Scratch.file(dir, "dev1.img"), label: nil, force: false)
        _ = try engine.createVolume(name: "mirror", capacityBytes: Self.mib, replicas: 2, provisioning: .thin)

        #expect(throws: EngineError.deviceNeededByVolumes(id: first.id, replicas: 2, remaining: 1)) {
            try engine.removeDevice(id: first.id)
        }
        #expect(try engine.listDevices().count == 2)
        guard case .superblock = try Scratch.decodedHeader(first.path) else { Issue.record("superblock wiped"); return }
    }

    @Test func deviceNeededForReservationsStays() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let first = try engine.addDevice(path: try Scratch.file(dir, "dev0.img"), label: nil, force: false)
        _ = try engine.addDevice(path: try Scratch.file(dir, "dev1.img"), label: nil, force: false)
        _ = try engine.createVolume(name: "big", capacityBytes: 200 * Self.mib, replicas: 1, provisioning: .thick)

        #expect(throws: EngineError.deviceNeededForReservations(id: first.id)) { try engine.removeDevice(id: first.id) }
        #expect(try engine.listDevices().count == 2)
    }

    @Test func restartKeepsDevicesAndVolumes() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        let first = try engine.addDevice(path: try Scratch.file(dir, "dev0.img"), label: "a", force: false)
        let second = try engine.addDevice(path: try Scratch.file(dir, "dev1.img"), label: nil, force: false)
        _ = try engine.setDeviceState(id: second.id, to: .readonly)
        _ = try engine.createVolume(name: "thick", capacityBytes: 10 * Self.mib, replicas: 1, provisioning: .thick)
        _ = try engine.createVolume(name: "thin", capacityBytes: 1 << 40, replicas: 1, provisioning: .thin)
        let before = try engine.snapshot()
        engine.shutdown()
        #expect(Dictionary(uniqueKeysWithValues: before.devices.map { ($0.id, $0.state) }) == [first.id: .active, second.id: .readonly])
        #expect(before.volumes.map(\.name) == ["thick", "thin"])

        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        let after = try reopened.snapshot()
        #expect(reopened.poolUUID == engine.poolUUID)
        #expect(after.pool == before.pool)
        #expect(after.volumes == before.volumes)
        #expect(after.devices == before.devices)
    }

    @Test func deviceMissingAtRestartIsFailed() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        let kept = try engine.addDevice(path: try Scratch.file(dir, "dev0.img"), label: nil, force: false)
        let lost = try engine.addDevice(path: try Scratch.file(dir, "dev1.img"), label: nil, force: false)
        engine.shutdown()
        try FileManager.default.removeItem(atPath: lost.path)

        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        #expect(try reopened.device(id: lost.id).state == .failed)
        #expect(try reopened.listDevices().count == 2)
        #expect(throws: EngineError.deviceStateChange(id: lost.id, from: "failed", to: "readonly")) {
            try reopened.setDeviceState(id: lost.id, to: .readonly)
        }
        #expect(try reopened.device(id: kept.id).state == .active)
    }
}
