import Foundation
import Testing

@testable import Catalog

@Suite struct CatalogVolumesTests {
    @Test func createdVolumeIsListed() throws {
        let catalog = try Catalog.inMemory()
        var seenPool: PoolUsage?
        let created = try catalog.createVolume(Fixture.volume("vol", capacity: 1000, replicas: 2)) { seenPool = $0 }
        #expect(seenPool?.volumeCount == 0)
        #expect(created.record.id != nil)
        #expect(created.record.name == "vol")
        #expect(created.record.capacityBytes == 1000)
        #expect(created.usage == .zero)  // Thin: nothing reserved.
        #expect(try catalog.volumes() == [created])
        #expect(try catalog.volume(named: "vol") == created)
        #expect(try catalog.volume(named: "other") == nil)
    }

    @Test func duplicateNameIsRefused() throws {
        let catalog = try Catalog.inMemory()
        _ = try catalog.createVolume(Fixture.volume("vol", capacity: 1000)) { _ in }
        #expect(throws: CatalogError.duplicate("volume vol")) {
            try catalog.createVolume(Fixture.volume("vol", capacity: 2000)) { _ in }
        }
        #expect(try catalog.volumes().map(\.record.capacityBytes) == [1000])
    }

    @Test func createRefusedByValidationInsertsNothing() throws {
        let catalog = try Catalog.inMemory()
        #expect(throws: Refused()) { try catalog.createVolume(Fixture.volume("vol")) { _ in throw Refused() } }
        #expect(try catalog.volumes().isEmpty)
    }

    @Test func thickVolumeReservesCapacityTimesReplicas() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1", capacity: 1 << 20))
        let thick = try catalog.createVolume(Fixture.volume("thick", capacity: 1000, replicas: 3, provisioning: .thick)) { _ in }
        _ = try catalog.createVolume(Fixture.volume("thin", capacity: 5000, replicas: 2)) { _ in }
        #expect(thick.usage.reservedBytes == 3000)
        let pool = try catalog.poolUsage()
        #expect(pool.reservedBytes == 3000)
        #expect(pool.freeBytes == (1 << 20) - 3000)
        #expect(pool.volumeCount == 2)
        #expect(pool.maxReplicas == 3)
    }

    @Test func resizeUpdatesCapacityAndReservation() throws {
        let catalog = try Catalog.inMemory()
        _ = try catalog.createVolume(Fixture.volume("vol", capacity: 1000, replicas: 2, provisioning: .thick)) { _ in }
        let later = Fixture.now.addingTimeInterval(60)
        var seen: (before: Int64, reservedAfter: Int64)?
        let resized = try catalog.resizeVolume(named: "vol", capacityBytes: 4000, now: later) { before, poolAfter in
            seen = (before.record.capacityBytes, poolAfter.reservedBytes)
        }
        #expect(seen?.before == 1000)
        #expect(seen?.reservedAfter == 8000)
        #expect(resized.record.capacityBytes == 4000)
        #expect(resized.record.updatedAt == later)
        #expect(resized.record.createdAt == Fixture.now)
        #expect(try catalog.volume(named: "vol") == resized)
        #expect(try catalog.poolUsage().reservedBytes == 8000)
    }

    @Test func resizeRefusedByValidationRollsBack() throws {
        let catalog = try Catalog.inMemory()
        let created = try catalog.createVolume(Fixture.volume("vol", capacity: 1000, replicas: 2, provisioning: .thick)) { _ in }
        #expect(throws: Refused()) {
            try catalog.resizeVolume(named: "vol", capacityBytes: 4000, now: Fixture.now.addingTimeInterval(60)) { _, _ in
                throw Refused()
            }
        }
        #expect(try catalog.volume(named: "vol") == created)
        #expect(try catalog.poolUsage().reservedBytes == 2000)
    }

    @Test func resizeOfAnUnknownVolumeIsNotFound() throws {
        let catalog = try Catalog.inMemory()
        #expect(throws: CatalogError.notFound("volume nope")) {
            try catalog.resizeVolume(named: "nope", capacityBytes: 1, now: Fixture.now) { _, _ in }
        }
    }

    @Test func deletingAnEmptyVolumeFreesNothing() throws {
        let catalog = try Catalog.inMemory()
        _ = try catalog.createVolume(Fixture.volume("vol")) { _ in }
        _ = try catalog.createVolume(Fixture.volume("keep")) { _ in }
        let freed = try catalog.deleteVolume(named: "vol") { _ in }
        #expect(freed == [])
        #expect(try catalog.volume(named: "vol") == nil)
        #expect(try catalog.volumes().map(\.record.name) == ["keep"])
    }

    @Test func deletingAVolumeReturnsItsReplicas() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1"))
        try catalog.insertDevice(Fixture.device("d2"))
        let volume = try catalog.createVolume(Fixture.volume("vol", replicas: 2)) { _ in }
        let stored = try catalog.storeObject(volumeId: volume.record.id!, key: "k", size: 4096, on: ["d1", "d2"])
        var usage = VolumeUsage(usedBytes: 4096, objectCount: 1, allocatedBytes: 8192, reservedBytes: 0)
        usage.versionCount = 1
        #expect(try catalog.volume(named: "vol")?.usage == usage)

        var seenObjects: Int64?
        let freed = try catalog.deleteVolume(named: "vol") { seenObjects = $0.usage.objectCount }
        #expect(seenObjects == 1)
        #expect(Set(freed.map(\.deviceId)) == ["d1", "d2"])
        #expect(freed.count == stored.count)
        #expect(try catalog.poolUsage().allocatedBytes == 0)  // Objects and extents went by cascade.
    }

    @Test func deleteRefusedByValidationKeepsTheVolume() throws {
        let catalog = try Catalog.inMemory()
        let created = try catalog.createVolume(Fixture.volume("vol")) { _ in }
        #expect(throws: Refused()) { try catalog.deleteVolume(named: "vol") { _ in throw Refused() } }
        #expect(try catalog.volume(named: "vol") == created)
        #expect(throws: CatalogError.notFound("volume nope")) { try catalog.deleteVolume(named: "nope") { _ in } }
    }
}
