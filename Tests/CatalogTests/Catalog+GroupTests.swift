// Group commit at the catalog: each change's failure is its own, with a savepoint per change in a
// group and without one for a lone change (its failure rolls the whole transaction back).
import Foundation
import Testing

@testable import Catalog

@Suite struct CatalogGroupTests {
    struct Refused: Error, Equatable {}

    static func version(_ volume: VolumeRecord, _ key: String) -> ObjectVersion {
        ObjectVersion(volumeID: volume.id!, key: key, size: 0, etag: "e", contentType: nil)
    }

    @Test(arguments: [1, 3])
    func aFailedChangeIsItsOwnAndTheRestCommit(members: Int) throws {
        let catalog = try Catalog.inMemory()
        let volume = try catalog.createVolume(Fixture.volume("vol", capacity: 1 << 30, replicas: 1)) { _ in }.record
        // The last member writes its row and then fails: nothing of it may stay.
        let changes: [(CatalogTransaction) throws -> Void] = (0..<members).map { i in
            { transaction in
                _ = try transaction.commitObject(Self.version(volume, "k\(i)"), extents: [], now: Fixture.now) { _ in }
                if i == members - 1 { throw Refused() }
            }
        }
        let outcomes = try catalog.commitGroup(changes)
        #expect(outcomes.count == members)
        for (i, outcome) in outcomes.enumerated() {
            #expect((outcome as? Refused != nil) == (i == members - 1), "member \(i): \(String(describing: outcome))")
        }
        for i in 0..<members {
            #expect((try catalog.object(volumeID: volume.id!, key: "k\(i)") != nil) == (i < members - 1), "k\(i)")
        }
        // The catalog takes the next group as usual.
        let next = try catalog.commitGroup([
            { transaction in
                _ = try transaction.commitObject(Self.version(volume, "after"), extents: [], now: Fixture.now) { _ in }
            }
        ])
        #expect(next.count == 1 && next[0] == nil)
        #expect(try catalog.object(volumeID: volume.id!, key: "after") != nil)
    }
}
