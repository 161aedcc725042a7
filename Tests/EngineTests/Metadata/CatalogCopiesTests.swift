import Foundation
import Testing

// The catalog on the pool's own devices: copies on `metadataCopies` devices' metadata areas, a
// pool imported from its devices into an empty data directory (paths renamed and reordered), a
// rotten page read from another copy and repaired, copies moved off a removed device and back to
// the data directory when the last device goes.
@testable import Engine

@Suite struct CatalogCopiesTests {
    static func devices(_ directory: URL, _ count: Int, size: Int64 = 128 << 20) throws -> [String] {
        try (0..<count).map { try Scratch.file(directory, "disk-\($0).img", size: size) }
    }

    static func fill(_ engine: Engine, count: Int) throws -> [String: [UInt8]] {
        var written: [String: [UInt8]] = [:]
        for i in 0..<count {
            let data = Scratch.splitMixBytes(4096 + i, seed: UInt64(i + 1))
            try Scratch.upload(engine, "vol", "key-\(i)", data)
            written["key-\(i)"] = data
        }
        return written
    }

    @Test func theCatalogLivesOnTheDevicesAndAStartFindsItThere() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try Self.devices(directory, 4)
        var engine = try Scratch.engine(directory)
        #expect(engine.metadataCopiesStatus.devices == ["data-directory"])
        for path in paths { _ = try engine.addDevice(path: path, label: nil, force: false) }
        let status = engine.metadataCopiesStatus
        #expect(status.devices.count == 3 && status.healthy == 3 && status.wanted == 3)
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data/catalog.sqlite").path))
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 2, provisioning: .thin)
        let written = try Self.fill(engine, count: 40)
        engine.shutdown()

        engine = try Scratch.engine(directory)
        defer { engine.shutdown() }
        #expect(Set(engine.metadataCopiesStatus.devices) == Set(status.devices))
        for (key, data) in written { #expect(try Scratch.readObject(engine, "vol", key) == data) }
    }

    @Test func aNewDataDirectoryImportsThePoolFromRenamedDevicesInAnotherOrder() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try Self.devices(directory, 3)
        let first = try Scratch.engine(directory, "first")
        for path in paths { _ = try first.addDevice(path: path, label: nil, force: false) }
        _ = try first.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 2, provisioning: .thin)
        let written = try Self.fill(first, count: 30)
        let devices = try first.listDevices()
        first.shutdown()

        var renamed: [String] = []
        for (index, path) in paths.enumerated().reversed() {
            let moved = directory.appending(path: "moved-\(index).img").path
            try FileManager.default.moveItem(atPath: path, toPath: moved)
            renamed.append(moved)
        }
        try FileManager.default.removeItem(at: directory.appending(path: "first"))
        let second = try Scratch.engine(directory, "second", devicePaths: renamed)
        defer { second.shutdown() }
        #expect(try second.listDevices().map(\.id).sorted() == devices.map(\.id).sorted())
        #expect(try second.listDevices().allSatisfy { $0.path.contains("moved-") && $0.state == .active })
        #expect(try second.listVolumes().map(\.name) == ["vol"])
        for (key, data) in written { #expect(try Scratch.readObject(second, "vol", key) == data) }
    }

    @Test func aRottenPageIsReadFromAnotherCopyAndRewritten() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try Self.devices(directory, 2)
        var engine = try Scratch.engine(directory)
        for path in paths { _ = try engine.addDevice(path: path, label: nil, force: false) }
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 1, provisioning: .thin)
        let written = try Self.fill(engine, count: 50)
        let first = try #require(engine.mirror.copies.first)
        let size = engine.mirror.figures.databaseBytes
        engine.shutdown()

        // Garble every database page of the first copy past the header page.
        let handle = try FileHandle(forUpdating: URL(filePath: try #require(Self.path(of: first))))
        for page in stride(from: Int64(4096), to: size, by: 4096) {
            try handle.seek(toOffset: UInt64(first.database.base + page + 100))
            handle.write(Data(repeating: 0xA5, count: 64))
        }
        try handle.close()

        engine = try Scratch.engine(directory)
        defer { engine.shutdown() }
        for (key, data) in written { #expect(try Scratch.readObject(engine, "vol", key) == data) }
        #expect(engine.metadataFigures.checksumFailures > 0)
        let afterReads = engine.mirror.scrub()
        #expect(afterReads.unreadable == 0)
        #expect(engine.mirror.scrub() == (repaired: 0, unreadable: 0))
    }

    @Test func aRemovedDeviceTakesNoCopyWithItAndTheLastOneBringsItHome() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try Self.devices(directory, 3)
        let engine = try Scratch.engine(directory)
        defer { engine.shutdown() }
        let added = try paths.map { try engine.addDevice(path: $0, label: nil, force: false) }
        let holders = engine.metadataCopiesStatus.devices
        #expect(holders.count == 3)
        try engine.removeDevice(id: added[0].id)
        #expect(Set(engine.metadataCopiesStatus.devices) == Set([added[1].id, added[2].id]))
        #expect(MetadataDiscovery.probe(paths[0]) == nil)  // its superblock is wiped
        try engine.removeDevice(id: added[1].id)
        try engine.removeDevice(id: added[2].id)
        #expect(engine.metadataCopiesStatus.devices == ["data-directory"])
        #expect(try engine.listDevices().isEmpty)
        let again = try engine.addDevice(path: paths[0], label: "again", force: false)
        #expect(engine.metadataCopiesStatus.devices == [again.id])
        #expect(try engine.listDevices().map(\.label) == ["again"])
    }

    @Test func twoPoolsCopiesAreRefusedTogether() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try Self.devices(directory, 2)
        for (index, path) in paths.enumerated() {
            let engine = try Scratch.engine(directory, "pool-\(index)")
            _ = try engine.addDevice(path: path, label: nil, force: false)
            engine.shutdown()
        }
        #expect(throws: EngineError.self) {
            try Scratch.engine(directory, "both", devicePaths: paths)
        }
    }

    static func path(of copy: CatalogCopy) -> String? {
        if case .area(_, _, let path) = copy.place { return path }
        return nil
    }
}

@Suite struct OlderPoolTests {
    /// A pool whose devices have no metadata area (as every device had before them) keeps its
    /// catalog in the data directory; the next start gives each device an area at its free end
    /// and moves the catalog there, and a new data directory then imports the pool.
    @Test func aPoolFromBeforeAreasMovesItsCatalogOntoItsDevices() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try CatalogCopiesTests.devices(directory, 2)
        var engine = try Scratch.engine(directory)
        let before = try paths.map { try engine.addDevice(path: $0, label: nil, force: false, metadataBytes: 0) }
        #expect(before.allSatisfy { $0.metadataBytes == 0 && $0.capacityBytes == 127 << 20 })
        #expect(engine.metadataCopiesStatus.devices == ["data-directory"])
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 2, provisioning: .thin)
        let written = try CatalogCopiesTests.fill(engine, count: 20)
        engine.shutdown()
        #expect(FileManager.default.fileExists(atPath: directory.appending(path: "data/catalog.sqlite").path))

        engine = try Scratch.engine(directory)
        #expect(Set(engine.metadataCopiesStatus.devices) == Set(before.map(\.id)))
        #expect(!FileManager.default.fileExists(atPath: directory.appending(path: "data/catalog.sqlite").path))
        let after = try engine.listDevices()
        #expect(after.allSatisfy { $0.metadataBytes == 16 << 20 && $0.capacityBytes == (127 - 16) << 20 })
        for (key, data) in written { #expect(try Scratch.readObject(engine, "vol", key) == data) }
        #expect(engine.check(verifyData: true).problems == [])
        engine.shutdown()

        let imported = try Scratch.engine(directory, "elsewhere", devicePaths: paths)
        defer { imported.shutdown() }
        for (key, data) in written { #expect(try Scratch.readObject(imported, "vol", key) == data) }
    }
}

@Suite struct CatalogRoomTests {
    /// A catalog near its smallest copy's room refuses new objects (507 on the wire) and takes
    /// deletes and overwrites; it is never left half-written.
    @Test func aCatalogNearItsRoomRefusesNewObjectsButNotDeletes() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let path = try Scratch.file(directory, "disk.img", size: 128 << 20)
        let engine = try Scratch.engine(directory)
        defer { engine.shutdown() }
        _ = try engine.addDevice(path: path, label: nil, force: false)
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 1, provisioning: .thin)
        var stored = 0
        var refusal: EngineError?
        // Long keys fill the catalog quickly (each row holds its key twice: the row and its index).
        let pad = String(repeating: "k", count: 900)
        while refusal == nil, stored < 100_000 {
            do {
                try Scratch.upload(engine, "vol", "\(pad)-\(stored)", [1])
                stored += 1
            } catch let error as EngineError {
                refusal = error
            }
        }
        guard case .metadataFull(let bytes, let room)? = refusal else {
            Issue.record("no refusal after \(stored) objects: \(String(describing: refusal))")
            return
        }
        #expect(refusal?.kind == .noSpace)
        #expect(bytes <= room)
        try Scratch.upload(engine, "vol", "\(pad)-0", [2])  // an overwrite is taken
        for i in 0..<stored / 2 { try engine.deleteObject(volume: "vol", key: "\(pad)-\(i)") }
        try engine.checkpointCatalog()  // the header page, with the free list, reaches the copies
        try Scratch.upload(engine, "vol", "after-deletes", [3])  // room again
        #expect(engine.check(verifyData: false).problems == [])
    }
}

extension CatalogRoomTests {
    /// Async writes of new objects hold catalog room for their rows until written back: the
    /// catalog refuses the next new object before the accepted ones could outgrow its room, and
    /// every accepted one is written back (none fails for want of room) and reads back.
    @Test func asyncWritesHoldCatalogRoomForTheirRows() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let path = try Scratch.file(directory, "disk.img", size: 128 << 20)
        var engine = try Scratch.engine(directory)
        _ = try engine.addDevice(path: path, label: nil, force: false)
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 1, provisioning: .thin)
        let pad = String(repeating: "k", count: 900)
        var accepted = 0
        var refusal: EngineError?
        while refusal == nil, accepted < 20_000 {
            do {
                try Scratch.bufferedUpload(engine, "vol", "\(pad)-\(accepted)", [UInt8(accepted % 251)], sync: false)
                accepted += 1
            } catch let error as EngineError {
                refusal = error
            }
        }
        guard case .metadataFull? = refusal else {
            Issue.record("no refusal after \(accepted) async objects: \(String(describing: refusal))")
            engine.shutdown()
            return
        }
        try engine.flushVolume(named: "vol")  // every accepted row finds room
        #expect(engine.pageCache.pendingRowBytes == 0)
        #expect(engine.pageCache.totals.writebackErrors == 0)
        engine.shutdown()
        engine = try Scratch.engine(directory, devicePaths: [path])
        defer { engine.shutdown() }
        for i in stride(from: 0, to: accepted, by: max(1, accepted / 50)) {
            #expect(try Scratch.readObject(engine, "vol", "\(pad)-\(i)") == [UInt8(i % 251)])
        }
        #expect(try engine.listObjects(volume: "vol", prefix: "", startAfter: nil, limit: 100_000).count == accepted)
        #expect(engine.check(verifyData: false).problems == [])
    }
}

@Suite struct WALPageTests {
    /// Pages read back from the WAL are checked against the sums they were written with: a copy
    /// whose WAL frames rot is read around and rewritten while the engine runs.
    @Test func aRottenWALPageIsReadFromAnotherCopyAndRewritten() throws {
        let directory = try Scratch.directory()
        defer { Scratch.remove(directory) }
        let paths = try CatalogCopiesTests.devices(directory, 2)
        let engine = try Scratch.engine(directory)
        defer { engine.shutdown() }
        for path in paths { _ = try engine.addDevice(path: path, label: nil, force: false) }
        _ = try engine.createVolume(name: "vol", capacityBytes: 64 << 20, replicas: 1, provisioning: .thin)
        try engine.checkpointCatalog()
        let written = try CatalogCopiesTests.fill(engine, count: 12)  // their rows are in the WAL now
        let first = try #require(engine.mirror.copies.first)
        let frames = Int((engine.mirror.size(.wal) - 32) / (4096 + 24))
        #expect(frames > 0)
        let handle = try FileHandle(forUpdating: URL(filePath: try #require(CatalogCopiesTests.path(of: first))))
        for frame in 0..<frames {
            try handle.seek(toOffset: UInt64(first.wal.base + 32 + Int64(frame) * (4096 + 24) + 24 + 200))
            handle.write(Data(repeating: 0x6B, count: 16))
        }
        try handle.close()
        let failuresBefore = engine.metadataFigures.checksumFailures
        try Scratch.upload(engine, "vol", "after", [9])  // a commit: readers drop their cached pages
        for (key, data) in written { #expect(try Scratch.readObject(engine, "vol", key) == data) }
        #expect(try engine.listObjects(volume: "vol", prefix: "", startAfter: nil, limit: 100).count == written.count + 1)
        #expect(engine.metadataFigures.checksumFailures > failuresBefore)
        #expect(engine.metadataFigures.repairedPages > 0)
    }
}
