import Foundation
import GRDB
import Testing

@testable import Catalog

@Suite struct MigrationsTests {
    @Test func appliedMigrationsAreTheRegisteredOnes() throws {
        let catalog = try Catalog.inMemory()
        #expect(
            Catalog.migrator.migrations == [
                "v1-pool-devices-volumes-objects-extents", "v2-pool-default-devices-added", "v3-object-attributes-access-keys-multipart",
                "v4-inline-extent-bodies", "v5-object-part-sizes", "v6-object-versions", "v7-volume-snapshots", "v8-volume-clones",
            ])
        #expect(try catalog.appliedMigrations() == Catalog.migrator.migrations)
    }

    /// A catalog made before part sizes were kept: its objects read back as one part each.
    @Test func aCatalogFromBeforePartSizesMigrates() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "catalog.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try Catalog.migrator.migrate(queue, upTo: "v4-inline-extent-bodies")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO volumes (name, capacityBytes, replicas, provisioning, createdAt, updatedAt)
                        VALUES ('vol', 1048576, 1, 'thin', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                        INSERT INTO objects (volumeId, key, size, etag, contentType, createdAt, modifiedAt)
                        VALUES (1, 'k', 0, 'abc-2', NULL, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                        """)
            }
        }
        let catalog = try Catalog(path: path)
        defer { try? catalog.close() }
        #expect(try catalog.appliedMigrations() == Catalog.migrator.migrations)
        let object = try #require(try catalog.object(volumeID: 1, key: "k"))
        #expect(object.record.parts == nil && object.record.attributes.parts.isEmpty && object.record.etag == "abc-2")
    }

    /// A catalog made before versions: the objects table is rebuilt, and its rows, their extents
    /// (which refer to them) and replicas, and the row-id sequence come through; each row is its
    /// key's null version and latest.
    @Test func aCatalogFromBeforeVersionsMigratesWithItsExtents() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "catalog.sqlite").path
        do {
            let queue = try DatabaseQueue(path: path)
            try Catalog.migrator.migrate(queue, upTo: "v5-object-part-sizes")
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO devices (id, path, label, state, capacityBytes, logicalBlockSize, dataOffset, createdAt)
                        VALUES ('d1', '/dev/x', NULL, 'active', 1048576, 4096, 0, '2026-01-01 00:00:00.000');
                        INSERT INTO volumes (name, capacityBytes, replicas, provisioning, createdAt, updatedAt)
                        VALUES ('vol', 1048576, 1, 'thin', '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                        INSERT INTO objects (id, volumeId, key, size, etag, contentType, createdAt, modifiedAt)
                        VALUES (7, 1, 'k', 4096, 'e', NULL, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                        INSERT INTO objects (id, volumeId, key, size, etag, contentType, createdAt, modifiedAt)
                        VALUES (41, 1, 'gone', 1, 'g', NULL, '2026-01-01 00:00:00.000', '2026-01-01 00:00:00.000');
                        DELETE FROM objects WHERE id = 41;
                        INSERT INTO extents (objectId, logicalOffset, length, checksumBlock, checksums) VALUES (7, 0, 4096, 4096, x'00000000');
                        INSERT INTO extent_replicas (extentId, deviceId, physicalOffset, length) VALUES (1, 'd1', 8192, 4096);
                        """)
            }
        }
        let catalog = try Catalog(path: path)
        defer { try? catalog.close() }
        #expect(try catalog.appliedMigrations() == Catalog.migrator.migrations)
        let object = try #require(try catalog.object(volumeID: 1, key: "k"))
        #expect(object.record.id == 7 && !object.record.versioned && object.record.latest && !object.record.deleteMarker)
        #expect(object.extents.count == 1 && object.extents[0].replicas.map(\.physicalOffset) == [8192])
        #expect(try catalog.object(volumeID: 1, key: "k", version: .null)?.record.id == 7)
        #expect(try catalog.integrityProblems().isEmpty)
        // The sequence carried over: a new row gets an id past every id ever given (41), not 8.
        let commit = try catalog.commitObject(
            ObjectVersion(volumeID: 1, key: "new", size: 0, etag: "n", contentType: nil, versioned: true), extents: [], now: Date()
        ) { _ in }
        #expect(commit.object.record.id! > 41)
        #expect(try catalog.volumeRecord(named: "vol")?.versioning == .off)
    }

    @Test func migratingAnExistingCatalogAgainChangesNothing() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "catalog.sqlite").path

        let first = try Catalog(path: path)
        try first.insertDevice(Fixture.device("d1"))
        let applied = try first.appliedMigrations()
        try first.close()

        let second = try Catalog(path: path)  // Runs the migrator again on a migrated database.
        defer { try? second.close() }
        #expect(try second.appliedMigrations() == applied)
        #expect(try second.devices().map(\.record) == [Fixture.device("d1")])
    }

    /// A catalog written before v3 (objects without attributes) opens with its objects intact.
    @Test func aV2CatalogUpgradesWithItsObjects() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appending(path: "catalog.sqlite").path
        let old = try DatabaseQueue(path: path)
        try Catalog.migrator.migrate(old, upTo: "v2-pool-default-devices-added")
        try old.write { db in
            try db.execute(
                sql: "INSERT INTO volumes (name, capacityBytes, replicas, provisioning, createdAt, updatedAt) VALUES ('v', 100, 1, 'thin', 0, 0)")
            try db.execute(
                sql: "INSERT INTO objects (volumeId, key, size, etag, contentType, createdAt, modifiedAt) VALUES (1, 'k', 5, 'e', 'text/plain', 0, 0)"
            )
        }
        try old.close()
        let catalog = try Catalog(path: path)
        defer { try? catalog.close() }
        let object = try #require(try catalog.object(volumeID: 1, key: "k"))
        #expect(object.record.etag == "e" && object.record.attributes == .none)
        #expect(try catalog.accessKeys().isEmpty)
    }

    @Test func foreignKeysAreEnforced() throws {
        let catalog = try Catalog.inMemory()
        #expect(try catalog.read { db in try Int.fetchOne(db, sql: "PRAGMA foreign_keys") } == 1)
        try catalog.insertDevice(Fixture.device("d1"))
        let volume = try catalog.createVolume(Fixture.volume("vol")) { _ in }
        let replicas = try catalog.storeObject(volumeId: volume.record.id!, key: "k", size: 4096, on: ["d1"])

        let orphan = ExtentReplicaRecord(extentId: replicas[0].extentId, deviceId: "missing", physicalOffset: 0, length: 4096)
        let error = #expect(throws: CatalogError.self) { try catalog.write { db in try orphan.insert(db) } }
        guard case .database(let detail)? = error else {
            Issue.record("expected a database error, got \(String(describing: error))")
            return
        }
        #expect(detail.contains("FOREIGN KEY"))
        #expect(try catalog.poolUsage().allocatedBytes == 4096)
    }

    @Test func deletingADeviceThatHoldsReplicasIsRestricted() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1"))
        let volume = try catalog.createVolume(Fixture.volume("vol")) { _ in }
        try catalog.storeObject(volumeId: volume.record.id!, key: "k", size: 4096, on: ["d1"])

        #expect(throws: CatalogError.self) { try catalog.deleteDevice(id: "d1") { _, _ in } }
        #expect(try catalog.device(id: "d1")?.usedBytes == 4096)
    }
}
