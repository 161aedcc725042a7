import Foundation
import Testing

// The page cache's loads of a key, on the key reader's connection of its own: the same object as
// GRDB's read, the version committed last (each load is a fresh snapshot), from many threads at
// once, and an error (not a crash) once the catalog is closed.
@testable import Catalog

@Suite struct CatalogKeyReaderTests {
    static func withCatalog(_ body: (Catalog) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "keyreader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appending(path: "catalog.sqlite").path)
        defer { try? catalog.close() }
        try body(catalog)
    }

    static func commit(_ catalog: Catalog, _ volumeID: Int64, _ key: String, etag: String, inline: Bool) throws {
        let extent =
            inline
            ? NewExtent(
                logicalOffset: 0, length: 100, checksumBlock: 4096, checksums: Data([1, 2, 3, 4]), replicas: [], body: Data(repeating: 5, count: 100))
            : NewExtent(
                logicalOffset: 0, length: 4096, checksumBlock: 4096, checksums: Data([4, 3, 2, 1]),
                replicas: [(deviceID: "d2", offset: 1 << 20, length: 4096), (deviceID: "d1", offset: 2 << 20, length: 4096)])
        _ = try catalog.commitObject(
            ObjectVersion(volumeID: volumeID, key: key, size: extent.length, etag: etag, contentType: "a/b"), extents: [extent], now: Fixture.now
        ) { _ in }
    }

    @Test func aLoadIsTheObjectAsLastCommitted() throws {
        try Self.withCatalog { catalog in
            #expect(catalog.keyReader != nil)
            for id in ["d1", "d2"] { try catalog.insertDevice(Fixture.device(id)) }
            let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 2)) { _ in }.record.id!
            let keys = ["plain", "caf\u{E9}/\u{1F600}", String(repeating: "k", count: 1024)]
            for (i, key) in keys.enumerated() { try Self.commit(catalog, volume, key, etag: "v1", inline: i % 2 == 0) }
            for key in keys {
                let loaded = try #require(try catalog.loadObject(volumeID: volume, key: key))
                #expect(loaded == (try catalog.object(volumeID: volume, key: key)))
                #expect(loaded.record.key == key && loaded.record.etag == "v1")
            }
            #expect(try catalog.loadObject(volumeID: volume, key: "plai") == nil)
            #expect(try catalog.loadObject(volumeID: volume + 1, key: "plain") == nil)

            // Replaced (inline by extents), then deleted: each load sees the commit before it.
            try Self.commit(catalog, volume, "plain", etag: "v2", inline: false)
            let replaced = try #require(try catalog.loadObject(volumeID: volume, key: "plain"))
            #expect(replaced.record.etag == "v2" && replaced.extents[0].replicas.map(\.deviceId) == ["d1", "d2"])
            #expect(replaced.extents[0].record.body == nil)
            _ = try catalog.deleteObject(volumeID: volume, key: "plain")
            #expect(try catalog.loadObject(volumeID: volume, key: "plain") == nil)
        }
    }

    @Test func loadsFromManyThreadsWhileCommitsGoOn() throws {
        try Self.withCatalog { catalog in
            for id in ["d1", "d2"] { try catalog.insertDevice(Fixture.device(id)) }
            let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 2)) { _ in }.record.id!
            for i in 0..<20 { try Self.commit(catalog, volume, "k\(i)", etag: "v0", inline: i % 2 == 0) }
            let failures = LockedCount()
            DispatchQueue.concurrentPerform(iterations: 9) { thread in
                for round in 1...40 {
                    let key = "k\((thread * 7 + round) % 20)"
                    if thread == 0 {
                        if (try? Self.commit(catalog, volume, key, etag: "v\(round)", inline: round % 2 == 0)) == nil { failures.add() }
                    } else if (try? catalog.loadObject(volumeID: volume, key: key))??.record.key != key {
                        failures.add()
                    }
                }
            }
            #expect(failures.value == 0)
        }
    }

    @Test func aLoadAfterCloseIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "keyreader-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appending(path: "catalog.sqlite").path)
        try catalog.close()
        #expect(throws: CatalogError.self) { try catalog.loadObject(volumeID: 1, key: "k") }
    }
}

/// A count several threads add to.
final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
