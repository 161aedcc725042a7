import Foundation
import GRDB
import Testing

// The statements copies add to every object's load (does anyone borrow this row's bytes?) and to
// a deletion (who inherits them?) walk indexes: a scan of the objects table there would make every
// GET and every overwrite cost O(objects).
@testable import Catalog

@Suite struct CatalogSharedBytesTests {
    static func plan(_ catalog: Catalog, _ sql: String) throws -> [String] {
        try catalog.read { db in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String } }
    }

    @Test func sharingIsFoundThroughIndexes() throws {
        try CatalogKeyReaderTests.withCatalog { catalog in
            let statements = [
                Catalog.objectSQL.replacingOccurrences(of: "?", with: "1"),
                Catalog.heirSQL.replacingOccurrences(of: "?", with: "1"),
            ]
            for sql in statements {
                let plan = try Self.plan(catalog, sql)
                #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(plan)")
                #expect(plan.contains { $0.contains("objects_borrowed") }, "\(plan)")
            }
        }
    }
}
