import Engine
import Foundation
import Testing

@Suite struct EngineVolumesTests {
    static let mib = Scratch.mebibyte

    /// Runs `body` with an engine holding one 128 MiB file device (111 MiB of data capacity after the superblock and the 16 MiB metadata area).
    func withEngine(_ body: (Engine) throws -> Void) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        _ = try engine.addDevice(path: try Scratch.file(dir, "dev0.img"), label: nil, force: false)
        try body(engine)
    }

    @Test func thickVolumeReservesPoolSpace() throws {
        try withEngine { engine throws in
            let created = try engine.createVolume(
                name: "vol", capacityBytes: 100 * Self.mib, replicas: 1, provisioning: .thick,
                now: Date(timeIntervalSince1970: 1_700_000_000.5))
            #expect(created.reservedBytes == 100 * Self.mib)
            #expect(created.createdAt == Date(timeIntervalSince1970: 1_700_000_000))
            #expect(try engine.volume(named: "vol") == created)
            #expect(try engine.pool().freeBytes == 11 * Self.mib)
        }
    }

    @Test func thickVolumeLargerThanThePoolIsRefused() throws {
        try withEngine { engine throws in
            #expect(throws: EngineError.noSpace(.pool, needed: 128 * Self.mib, available: 111 * Self.mib)) {
                try engine.createVolume(name: "vol", capacityBytes: 128 * Self.mib, replicas: 1, provisioning: .thick)
            }
            #expect(try engine.listVolumes().isEmpty)
        }
    }

    @Test func moreReplicasThanActiveDevicesIsRefused() throws {
        try withEngine { engine throws in
            #expect(throws: EngineError.replicasExceedDevices(requested: 2, active: 1)) {
                try engine.createVolume(name: "vol", capacityBytes: Self.mib, replicas: 2, provisioning: .thin)
            }
            #expect(try engine.listVolumes().isEmpty)
        }
    }

    @Test func invalidNameIsRefused() throws {
        try withEngine { engine throws in
            let error = #expect(throws: EngineError.self) {
                try engine.createVolume(name: "Vol", capacityBytes: Self.mib, replicas: 1, provisioning: .thin)
            }
            #expect(error?.kind == .invalid)
        }
    }

    @Test func duplicateNameIsRefused() throws {
        try withEngine { engine throws in
            _ = try engine.createVolume(name: "vol", capacityBytes: Self.mib, replicas: 1, provisioning: .thin)
            #expect(throws: EngineError.volumeExists(name: "vol")) {
                try engine.createVolume(name: "vol", capacityBytes: 2 * Self.mib, replicas: 1, provisioning: .thin)
            }
            #expect(try engine.volume(named: "vol").capacityBytes == Self.mib)
        }
    }

    @Test func growingThickBeyondThePoolIsRefused() throws {
        try withEngine { engine throws in
            let created = try engine.createVolume(name: "vol", capacityBytes: 100 * Self.mib, replicas: 1, provisioning: .thick)
            #expect(throws: EngineError.noSpace(.pool, needed: 100 * Self.mib, available: 11 * Self.mib)) {
                try engine.resizeVolume(named: "vol", capacityBytes: 200 * Self.mib)
            }
            #expect(try engine.volume(named: "vol") == created)
            let grown = try engine.resizeVolume(named: "vol", capacityBytes: 111 * Self.mib)
            #expect(grown.capacityBytes == 111 * Self.mib)
            #expect(try engine.pool().freeBytes == 0)
        }
    }

    @Test func growingThinBeyondThePoolWorks() throws {
        try withEngine { engine throws in
            _ = try engine.createVolume(name: "vol", capacityBytes: Self.mib, replicas: 1, provisioning: .thin)
            let resized = try engine.resizeVolume(
                named: "vol", capacityBytes: 1 << 40, now: Date(timeIntervalSince1970: 1_800_000_000.9))
            #expect(resized.capacityBytes == 1 << 40)
            #expect(resized.updatedAt == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(try engine.volume(named: "vol") == resized)
            #expect(try engine.pool().reservedBytes == 0)
        }
    }

    @Test func unknownVolumesAreNotFound() throws {
        try withEngine { engine throws in
            #expect(throws: EngineError.volumeNotFound(name: "nope")) { try engine.deleteVolume(named: "nope", force: false) }
            #expect(throws: EngineError.volumeNotFound(name: "nope")) { try engine.resizeVolume(named: "nope", capacityBytes: 1) }
            #expect(throws: EngineError.volumeNotFound(name: "nope")) { try engine.volume(named: "nope") }
        }
    }

    @Test func deletedVolumeIsGoneAndFreesItsReservation() throws {
        try withEngine { engine throws in
            _ = try engine.createVolume(name: "vol", capacityBytes: 100 * Self.mib, replicas: 1, provisioning: .thick)
            try engine.deleteVolume(named: "vol", force: false)
            #expect(throws: EngineError.volumeNotFound(name: "vol")) { try engine.volume(named: "vol") }
            #expect(try engine.pool().freeBytes == 111 * Self.mib)
        }
    }
}
