import Catalog
import Testing

@Suite struct CatalogDevicesTests {
    @Test func insertedDeviceIsListedWithNoUsage() throws {
        let catalog = try Catalog.inMemory()
        let record = Fixture.device("d1", capacity: 5000)
        try catalog.insertDevice(record)
        #expect(try catalog.devices() == [DeviceWithUsage(record: record, usedBytes: 0)])
        #expect(try catalog.device(id: "d1") == DeviceWithUsage(record: record, usedBytes: 0))
        #expect(try catalog.device(id: "other") == nil)
        #expect(try catalog.poolUsage().capacityBytes == 5000)
    }

    @Test func duplicatePathOrIdIsRefused() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1", path: "/dev/a"))

        let samePath = #expect(throws: CatalogError.self) { try catalog.insertDevice(Fixture.device("d2", path: "/dev/a")) }
        guard case .duplicate? = samePath else { Issue.record("got \(String(describing: samePath))"); return }
        let sameId = #expect(throws: CatalogError.self) { try catalog.insertDevice(Fixture.device("d1", path: "/dev/b")) }
        guard case .duplicate? = sameId else { Issue.record("got \(String(describing: sameId))"); return }
        #expect(try catalog.devices().map(\.record.id) == ["d1"])
    }

    @Test func updateDeviceStateChangesTheRow() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1"))
        var seen: [DeviceRecord.State] = []
        let updated = try catalog.updateDeviceState(id: "d1", to: .readonly) { seen.append($0.state) }
        #expect(seen == [.active])
        #expect(updated.record.state == .readonly)
        #expect(try catalog.device(id: "d1")?.record.state == .readonly)
        #expect(try catalog.poolUsage().activeDeviceCount == 0)
    }

    @Test func updateDeviceStateRefusedByValidationLeavesTheRow() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1"))
        #expect(throws: Refused()) {
            try catalog.updateDeviceState(id: "d1", to: .readonly) { _ in throw Refused() }
        }
        #expect(try catalog.device(id: "d1")?.record == Fixture.device("d1"))
    }

    @Test func updateDeviceStateOfAnUnknownDeviceIsNotFound() throws {
        let catalog = try Catalog.inMemory()
        #expect(throws: CatalogError.notFound("device nope")) {
            try catalog.updateDeviceState(id: "nope", to: .readonly) { _ in }
        }
    }

    @Test func deleteDeviceValidationSeesThePoolWithoutTheDevice() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1", capacity: 1 << 30))
        try catalog.insertDevice(Fixture.device("d2", capacity: 1 << 29))
        try catalog.insertDevice(Fixture.device("d3", state: .readonly, capacity: 1 << 28))
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 20, replicas: 2, provisioning: .thick)) { _ in }
        try catalog.storeObject(volumeId: volume.record.id!, key: "k", size: 8192, on: ["d1", "d2"])
        let before = try catalog.poolUsage()

        var seenDevice: DeviceWithUsage?
        var seenPool: PoolUsage?
        #expect(throws: Refused()) {
            try catalog.deleteDevice(id: "d1") { device, poolWithout in
                seenDevice = device
                seenPool = poolWithout
                throw Refused()
            }
        }
        #expect(seenDevice == DeviceWithUsage(record: Fixture.device("d1", capacity: 1 << 30), usedBytes: 8192))
        var expected = before
        expected.capacityBytes = (1 << 29) + (1 << 28)
        expected.allocatedBytes = 8192
        expected.deviceCount = 2
        expected.activeDeviceCount = 1
        #expect(seenPool == expected)
        #expect(try catalog.poolUsage() == before)  // Refused: nothing changed.
    }

    @Test func deleteDeviceRemovesTheRow() throws {
        let catalog = try Catalog.inMemory()
        try catalog.insertDevice(Fixture.device("d1", state: .readonly))
        try catalog.insertDevice(Fixture.device("d2"))
        var seenPool: PoolUsage?
        let removed = try catalog.deleteDevice(id: "d1") { _, pool in seenPool = pool }
        #expect(removed == Fixture.device("d1", state: .readonly))
        #expect(seenPool?.activeDeviceCount == 1)  // d1 was not active: the count is unchanged.
        #expect(try catalog.devices().map(\.record.id) == ["d2"])
        #expect(throws: CatalogError.notFound("device d1")) { try catalog.deleteDevice(id: "d1") { _, _ in } }
    }
}
