import Foundation
import Testing

// Replaced extents are freed only after every reader that could still see them is done; so are
// the kept bytes of replaced inline extents.
@testable import Catalog
@testable import Engine

@Suite struct DeferredFreeTests {
    @Test func freesWaitForOlderReaders() {
        let allocator = Allocator()
        allocator.addDevice(id: "d", dataOffset: 0, capacity: 16 * Allocator.unit, used: [])
        let deferred = DeferredFree(allocator: allocator, bodies: RetiredBodies())
        let old = allocator.allocate(length: 4 * Allocator.unit, replicas: 1)!
        let reader = deferred.pin()
        deferred.retire(old, inline: [])
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
        let deferred = DeferredFree(allocator: allocator, bodies: RetiredBodies())
        deferred.retire(allocator.allocate(length: Allocator.unit, replicas: 1)!, inline: [])
        #expect(allocator.freeBytes(deviceID: "d") == 4 * Allocator.unit)
    }

    @Test func keptInlineBytesWaitForOlderReadersAndARolledBackChangeKeepsNone() {
        let bodies = RetiredBodies()
        let deferred = DeferredFree(allocator: Allocator(), bodies: bodies)
        func extent(_ id: Int64, _ body: Data?) -> StoredExtent {
            StoredExtent(
                record: ExtentRecord(id: id, objectId: 1, logicalOffset: 0, length: 4096, checksumBlock: 4096, checksums: Data(), body: body),
                replicas: [])
        }
        let change = Retiring(bodies)
        #expect(Set(change.hold([extent(7, Data([1, 2, 3])), extent(8, nil), extent(9, Data([4]))])) == [7, 9], "only inline extents are kept")
        let reader = deferred.pin()
        deferred.retire([], inline: [7, 9])
        #expect(bodies.body(7) == Data([1, 2, 3]) && bodies.body(9) == Data([4]), "kept while a reader from before the commit is active")
        let laterReader = deferred.pin()
        deferred.unpin(reader)
        #expect(bodies.count == 0, "a reader that started after the retire does not hold them")
        deferred.unpin(laterReader)

        let failed = Retiring(bodies)
        _ = failed.hold([extent(10, Data([5]))])
        #expect(bodies.body(10) == Data([5]))
        failed.rollBack()
        #expect(bodies.count == 0, "a change that rolled back keeps nothing")
        #expect(Retiring(nil).hold([extent(11, Data([6]))]).isEmpty, "a change outside a group keeps nothing")
    }
}
