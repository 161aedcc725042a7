import Foundation
import Testing

@testable import Catalog

@Suite struct CatalogObjectsTests {
    /// An object is read back as committed in one statement: its row, its extents in logical
    /// order each with its replicas by device, an inline extent's body without replicas, and an
    /// empty object with no extent.
    @Test func anObjectReadsBackWithItsExtentsAndReplicas() throws {
        let catalog = try Catalog.inMemory()
        for id in ["d1", "d2", "d3"] { try catalog.insertDevice(Fixture.device(id)) }
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 2)) { _ in }.record
        let attributes = ObjectAttributes(metadata: ["x-amz-meta-a": "b"], checksums: ["CRC32C": "AAAAAA=="])
        let extents = [
            NewExtent(
                logicalOffset: 8192, length: 4096, checksumBlock: 4096, checksums: Data([9, 9, 9, 9]),
                replicas: [(deviceID: "d3", offset: 1 << 20, length: 4096), (deviceID: "d1", offset: 2 << 20, length: 4096)]),
            NewExtent(
                logicalOffset: 0, length: 8192, checksumBlock: 4096, checksums: Data([1, 2, 3, 4, 5, 6, 7, 8]),
                replicas: [(deviceID: "d2", offset: 3 << 20, length: 8192), (deviceID: "d1", offset: 4 << 20, length: 8192)]),
        ]
        let version = ObjectVersion(volumeID: volume.id!, key: "many", size: 12288, etag: "e1", contentType: "text/plain", attributes: attributes)
        _ = try catalog.commitObject(version, extents: extents, now: Fixture.now) { _ in }
        let stored = try #require(try catalog.object(volumeID: volume.id!, key: "many"))
        #expect(stored.record.key == "many" && stored.record.size == 12288 && stored.record.etag == "e1")
        #expect(stored.record.contentType == "text/plain" && stored.record.createdAt == Fixture.now)
        #expect(stored.record.attributes == attributes)
        #expect(stored.extents.map(\.record.logicalOffset) == [0, 8192])
        #expect(stored.extents.map(\.record.checksums) == [Data([1, 2, 3, 4, 5, 6, 7, 8]), Data([9, 9, 9, 9])])
        #expect(stored.extents.map { $0.replicas.map(\.deviceId) } == [["d1", "d2"], ["d1", "d3"]])
        #expect(stored.extents[0].replicas.map(\.physicalOffset) == [4 << 20, 3 << 20])
        #expect(stored.extents.allSatisfy { $0.record.body == nil })

        let body = Data(repeating: 7, count: 3000)
        let inline = NewExtent(logicalOffset: 0, length: 3000, checksumBlock: 4096, checksums: Data([1, 1, 1, 1]), replicas: [], body: body)
        _ = try catalog.commitObject(
            ObjectVersion(volumeID: volume.id!, key: "inline", size: 3000, etag: "e2", contentType: nil), extents: [inline], now: Fixture.now
        ) { _ in }
        let small = try #require(try catalog.object(volumeID: volume.id!, key: "inline"))
        #expect(small.extents.count == 1 && small.extents[0].record.body == body && small.extents[0].replicas.isEmpty)

        _ = try catalog.commitObject(
            ObjectVersion(volumeID: volume.id!, key: "empty", size: 0, etag: "e3", contentType: nil), extents: [], now: Fixture.now
        ) { _ in }
        let empty = try #require(try catalog.object(volumeID: volume.id!, key: "empty"))
        #expect(empty.record.size == 0 && empty.extents.isEmpty)
        #expect(try catalog.object(volumeID: volume.id!, key: "missing") == nil)
    }
}
