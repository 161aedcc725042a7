import Foundation
import Testing

// The catalog's commits are durable: the writing connection runs `synchronous = FULL` (GRDB's WAL
// set-up leaves NORMAL, under which a commit does not fsync the WAL and can roll back at a power cut).
@testable import Catalog

@Suite struct CatalogDurabilityTests {
    @Test func theWritingConnectionRunsSynchronousFull() throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "catalog-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appending(path: "catalog.sqlite").path)
        defer { try? catalog.close() }
        #expect(try catalog.writerSynchronousMode() == 2)
        // Still FULL after writes (the pool keeps its one writing connection).
        try catalog.insertDevice(Fixture.device("d1"))
        #expect(try catalog.writerSynchronousMode() == 2)
    }
}
