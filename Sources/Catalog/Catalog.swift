// The Catalog: all metadata in SQLite (WAL, foreign keys, busy timeout, versioned migrations).
// Every method is one intent and one transaction. No IO scheduling and no HTTP here.
import Foundation
import GRDB
import GRDBSQLite

package struct Catalog: Sendable {
    private let writer: any DatabaseWriter
    /// The page cache's loads of a key (`loadObject(volumeID:key:)`), on a connection of their
    /// own; nil for a catalog in memory, which reads them through `writer`.
    let keyReader: CatalogKeyReader?
    /// The bytes of inline rows that committed changes deleted, while readers may want them.
    package let retiredBodies = RetiredBodies()

    /// Opens (creating if needed) the catalog database at `path` and migrates it.
    /// `durableCommits: false` is a bug planted for the power-cut test (GRDB's NORMAL is left).
    /// Every page keeps `PageLayout.reservedBytes` at its end for the checksum the storage under
    /// SQLite writes there (a database made without them is rebuilt once, by VACUUM).
    /// `walAutocheckpointPages`: how many WAL pages trigger a checkpoint (the WAL's room is fixed).
    package init(path: String, durableCommits: Bool = true, walAutocheckpointPages: Int = 1000) throws(CatalogError) {
        do {
            var configuration = Self.makeConfiguration()
            configuration.prepareDatabase { db in
                var reserved = Int32(PageLayout.reservedBytes)
                _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserved)
                try db.execute(sql: "PRAGMA wal_autocheckpoint = \(walAutocheckpointPages)")
            }
            var pool = try DatabasePool(path: path, configuration: configuration)
            if try Self.makeRoomForPageChecksums(pool) {
                // Every connection reopened, so that none keeps the old page layout in mind.
                try pool.close()
                pool = try DatabasePool(path: path, configuration: configuration)
            }
            if durableCommits { try Self.makeCommitsDurable(pool) }
            writer = pool
            try Self.migrator.migrate(writer)
            keyReader = try CatalogKeyReader(path: pool.path)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw .database(String(describing: error))
        }
    }

    /// `PRAGMA synchronous = FULL` on the pool's one writing connection, read back: with WAL,
    /// FULL makes every commit fsync the WAL before it returns, so a commit the engine answers
    /// for survives a power cut. GRDB's WAL set-up sets NORMAL (no fsync at commit: a committed
    /// transaction can roll back at a power cut) after any `prepareDatabase` hook, so it is set
    /// here, once the pool is open; a catalog that cannot run FULL is not opened.
    private static func makeCommitsDurable(_ pool: DatabasePool) throws {
        let mode = try pool.writeWithoutTransaction { db -> Int? in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try Int.fetchOne(db, sql: "PRAGMA synchronous")
        }
        guard mode == Self.synchronousFull else {
            throw CatalogError.database(
                "PRAGMA synchronous reads back \(mode.map(String.init) ?? "nothing") on the writing connection, not FULL (2): commits would not be durable"
            )
        }
    }

    static let synchronousFull = 2

    /// The page layout the catalog keeps: 4 KiB pages, the last 8 bytes of each reserved.
    package enum PageLayout {
        package static let pageSize = 4096
        package static let reservedBytes = 8
    }

    /// A database made before pages kept room for a checksum (or by another tool) is rebuilt
    /// with it: VACUUM applies the reserve the connection asked for.
    private static func makeRoomForPageChecksums(_ pool: DatabasePool) throws -> Bool {
        try pool.writeWithoutTransaction { db in
            var current: Int32 = -1
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_RESERVE_BYTES, &current)
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            guard pages > 0, current != Int32(PageLayout.reservedBytes) else { return false }
            var reserved = Int32(PageLayout.reservedBytes)
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_RESERVE_BYTES, &reserved)
            try db.execute(sql: "VACUUM")
            return true
        }
    }

    /// `PRAGMA synchronous` of the connection that writes (2 = FULL), as it is now.
    package func writerSynchronousMode() throws(CatalogError) -> Int {
        do {
            return try writer.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
        } catch {
            throw CatalogError.wrap(error)
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
        keyReader = nil
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

    /// Copies the WAL's pages into the database as far as readers allow (a passive checkpoint).
    package func checkpoint() throws(CatalogError) {
        do {
            if let pool = writer as? DatabasePool {
                _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
            }
        } catch {
            throw CatalogError.wrap(error)
        }
    }

    /// Flushes the WAL into the main database and closes the connections.
    package func close() throws(CatalogError) {
        keyReader?.close()
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

    /// Runs `body` on a reader outside any transaction: each statement sees its own snapshot, so
    /// only for a read that is one statement.
    func readOneStatement<T>(_ body: (Database) throws -> T) throws(CatalogError) -> T {
        do {
            return try writer.unsafeRead(body)
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
