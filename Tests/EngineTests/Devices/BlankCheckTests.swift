import Foundation
import Testing

@testable import Engine

@Suite struct BlankCheckTests {
    static let size: Int64 = 128 << 20

    @Test func windowsCoverTheHeaderAreaTheBtrfsMirrorAndTheTail() {
        let mib: Int64 = 1 << 20
        let windows = BlankCheck.windows(deviceSize: Self.size)
        #expect(windows == [0..<mib, (64 * mib)..<(64 * mib + 4096), (127 * mib)..<(128 * mib)])
        // A 64 MiB device has no room for the mirror.
        #expect(BlankCheck.windows(deviceSize: 64 * mib) == [0..<mib, (63 * mib)..<(64 * mib)])
    }

    static func write(_ bytes: [UInt8], at offset: Int64, to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(filePath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes))
    }

    @Test(arguments: [4096, 32 << 10, 256 << 10, (1 << 20) - 1, 64 << 20, (128 << 20) - (512 << 10), (128 << 20) - 1] as [Int64])
    func dataPastTheFirstBlockNeedsForce(offset: Int64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img", size: Self.size)
        try Self.write([0x42], at: offset, to: path)

        let reason = "holds data at byte \(offset) (its first 4 KiB are zero, but other formats keep their labels further in)"
        #expect(throws: EngineError.deviceForeign(path: path, reason: reason)) { try engine.addDevice(path: path, label: nil, force: false) }
        #expect(try engine.listDevices().isEmpty)
        #expect(try Scratch.decodedHeader(path) == .blank)
        _ = try engine.addDevice(path: path, label: nil, force: true)
    }

    @Test func dataOutsideTheWindowsIsNotLookedAt() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img", size: Self.size)
        try Self.write([0x42], at: 1 << 20, to: path)
        try Self.write([0x42], at: 100 << 20, to: path)
        #expect(try engine.addDevice(path: path, label: nil, force: false).path == path)
    }

    @Test func aRemovedDeviceReadsBlankAgain() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir, "pool-a")
        defer { engine.shutdown() }
        let path = try Scratch.file(dir, "dev0.img", size: Self.size)
        let device = try engine.addDevice(path: path, label: nil, force: false)
        // What the pool wrote there while it was a member (data lands anywhere past the header).
        try Self.write(Scratch.randomBytes(4096), at: Self.size - 4096, to: path)
        try Self.write(Scratch.randomBytes(4096), at: 64 << 20, to: path)
        try engine.removeDevice(id: device.id)

        let other = try Scratch.engine(dir, "pool-b")
        defer { other.shutdown() }
        #expect(try other.addDevice(path: path, label: nil, force: false).path == path)
    }

    @Test func aPathInsideTheDataDirectoryIsRefusedEvenWithForce() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let engine = try Scratch.engine(dir)
        defer { engine.shutdown() }
        let data = dir.appending(path: "data").path
        try FileManager.default.createDirectory(atPath: data + "/devices", withIntermediateDirectories: true)
        let inside = try Scratch.file(dir, "data/inside.img", size: Self.size)
        let link = dir.appending(path: "link.img").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: inside)
        for path in [inside, link, data + "/devices/../inside.img", data + "/" + Engine.catalogFileName] {
            #expect(throws: EngineError.deviceInDataDirectory(path: path.hasSuffix(".sqlite") ? path : inside, dataDirectory: data)) {
                try engine.addDevice(path: path, label: nil, force: true)
            }
        }
        let spare = try Scratch.file(dir, "data/devices/spare.img", size: Self.size)
        #expect(try engine.addDevice(path: spare, label: nil, force: false).path == spare)
        #expect(try engine.listDevices().count == 1)
    }
}
