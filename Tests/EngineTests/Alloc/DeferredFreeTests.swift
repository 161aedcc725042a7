import Testing

// Replaced extents are freed only after every reader that could still see them is done.
@testable import Engine

@Suite struct DeferredFreeTests {
    @Test func freesWaitForOlderReaders() {
        let allocator = Allocator()
        allocator.addDevice(id: "d", dataOffset: 0, capacity: 16 * Allocator.unit, used: [])
        let deferred = DeferredFree(allocator: allocator)
        let old = allocator.allocate(length: 4 * Allocator.unit, replicas: 1)!
        let reader = deferred.pin()
        deferred.retire(old)
        #expect(allocator.freeBytes(deviceID: "d") == 12 * Allocator.unit, "freed under an active reader")
        let laterReader = deferred.pin()
        deferred.unpin(reader)
        #expect(allocator.freeBytes(deviceID: "d") == 16 * Allocator.unit, "a reader that started after the retire must not hold it")
        deferred.unpin(laterReader)
        #expect(deferred.pendingBytes == 0)
    }

    @Test func withoutReadersFreesAtOnce() {
        let allocator = Allocator()
        allocator.addDevice(id: "d", dataOffset: 0, capacity: 4 * Allocator.unit, used: [])
        let deferred = DeferredFree(allocator: allocator)
        deferred.retire(allocator.allocate(length: Allocator.unit, replicas: 1)!)
        #expect(allocator.freeBytes(deviceID: "d") == 4 * Allocator.unit)
    }
}
