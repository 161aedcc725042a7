import Foundation
import GRDB

// Records and helpers shared by the Catalog tests. Objects and extents have no package API yet,
// so they are written through the internal `write` (debug builds allow @testable).
@testable import Catalog

enum Fixture {
    /// Whole seconds: SQLite keeps milliseconds, so records round-trip exactly.
    static let now = Date(timeIntervalSince1970: 1_700_000_000)

    static func device(
        _ id: String, path: String? = nil, state: DeviceRecord.State = .active, capacity: Int64 = 1 << 30
    ) -> DeviceRecord {
        DeviceRecord(
            id: id, path: path ?? "/dev/fake-\(id)", label: "label-\(id)", state: state, capacityBytes: capacity,
            logicalBlockSize: 4096, dataOffset: 1 << 20, createdAt: now)
    }

    static func volume(
        _ name: String, capacity: Int64 = 1 << 20, replicas: Int64 = 1, provisioning: VolumeRecord.Provisioning = .thin
    ) -> VolumeRecord {
        VolumeRecord(name: name, capacityBytes: capacity, replicas: replicas, provisioning: provisioning, createdAt: now)
    }
}

/// Thrown by validation closures to refuse a change.
struct Refused: Error, Equatable {}

extension Catalog {
    /// Stores one object in `volumeId` with a single extent copied once onto each of `deviceIds`.
    @discardableResult
    func storeObject(volumeId: Int64, key: String, size: Int64, on deviceIds: [String]) throws -> [ExtentReplicaRecord] {
        try write { db in
            var object = ObjectRecord(
                id: nil, volumeId: volumeId, key: key, size: size, etag: "etag-\(key)", contentType: nil,
                createdAt: Fixture.now, modifiedAt: Fixture.now)
            try object.insert(db)
            var extent = ExtentRecord(
                id: nil, objectId: object.id!, logicalOffset: 0, length: size, checksumBlock: 4096,
                checksums: Data([1, 2, 3, 4]))
            try extent.insert(db)
            return try deviceIds.enumerated().map { index, deviceId in
                let replica = ExtentReplicaRecord(
                    extentId: extent.id!, deviceId: deviceId, physicalOffset: Int64(index) << 20, length: size)
                try replica.insert(db)
                return replica
            }
        }
    }
}
