// The Catalog: all metadata in SQLite (WAL, foreign keys, busy timeout, versioned migrations).
// Every method is one intent and one transaction. No IO scheduling and no HTTP here.
import Foundation
import GRDB

package struct Catalog: Sendable {
    private let writer: any DatabaseWriter

    /// Opens (creating if needed) the catalog database at `path` and migrates it.
    package init(path: String) throws(CatalogError) {
        do {
            writer = try DatabasePool(path: path, configuration: Self.makeConfiguration())
            try Self.migrator.migrate(writer)
        } catch {
            throw .database(String(describing: error))
        }
    }

    /// An in-memory catalog with the production configuration and migrator (tests).
    package static func inMemory() throws(CatalogError) -> Catalog {
        do {
            let queue = try DatabaseQueue(configuration: makeConfiguration())
            try migrator.migrate(queue)
            return Catalog(writer: queue)
        } catch {
            throw .database(String(describing: error))
        }
    }

    private init(writer: any DatabaseWriter) {
        self.writer = writer
    }

    static func makeConfiguration() -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(5)
        config.label = "catalog"
        return config
    }

    /// Applied migration identifiers, in order.
    package func appliedMigrations() throws(CatalogError) -> [String] {
        try read { db in try Self.migrator.appliedIdentifiers(db).sorted() }
    }

    /// Flushes the WAL into the main database and closes the connections.
    package func close() throws(CatalogError) {
        do {
            if let pool = writer as? DatabasePool {
                _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
                try pool.close()
            } else if let queue = writer as? DatabaseQueue {
                try queue.close()
            }
        } catch {
            throw .database(String(describing: error))
        }
    }

    // MARK: - Transaction helpers (the only place database errors are translated)

    func read<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do {
            return try writer.read(body)
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Runs `body` in one write transaction. Errors thrown by `body` (including a caller's
    /// validation errors) roll the transaction back and propagate unchanged.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do {
            return try writer.write(body)
        } catch let error as DatabaseError {
            throw CatalogError.wrap(error)
        }
    }
}
