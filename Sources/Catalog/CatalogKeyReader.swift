// The page cache's loads of a key: a read-only SQLite connection of the catalog's own, its one
// statement prepared once and stepped without GRDB's reader pool. The pool's hand-off (a
// semaphore, a dispatch queue), its schema check and its statement-cache lookup were ~44,000
// instructions of a load that is ~260,000 in all (a cold GET, or the look-up before a small PUT).
// One load at a time: the connection is its Mutex's, held across the read. The engine lets one load
// in at a time with a pthread lock of its own (`Engine.catalogLoads`), so this Mutex is never
// contended: a contended Synchronization.Mutex sleeps on a priority-inheritance futex, which cost
// cold GETs ~10 % when it alone stood in front of the loads.
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

final class CatalogKeyReader: Sendable {
    private struct Connection {
        let db: OpaquePointer
        let statement: OpaquePointer
    }

    /// nil once closed.
    private let connection: Mutex<Connection?>
    /// SQLite's page cache of this connection: the b-tree pages a load walks stay here between
    /// loads instead of being read (and checksummed) again through the catalog's storage.
    static let cacheKiB = 16 << 10

    /// Opens `path` (the catalog's database, through the same VFS as every other connection).
    init(path: String) throws {
        var handle: OpaquePointer?
        var code = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard code == SQLITE_OK, let db = handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open \(path)"
            sqlite3_close_v2(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
        sqlite3_busy_timeout(db, 5000)
        sqlite3_exec(db, "PRAGMA cache_size = -\(Self.cacheKiB)", nil, nil, nil)
        var prepared: OpaquePointer?
        code = sqlite3_prepare_v3(db, Catalog.objectSQL, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil)
        guard code == SQLITE_OK, let statement = prepared else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close_v2(db)
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: Catalog.objectSQL)
        }
        connection = Mutex(Connection(db: db, statement: statement))
    }

    /// The object's committed version, as `Catalog.object(volumeID:key:)` reads it: one
    /// statement, so one snapshot (each load sees every commit made before it).
    func object(volumeID: Int64, key: String) throws -> StoredObject? {
        try connection.withLock { connection throws -> StoredObject? in
            guard let connection else { throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "the catalog is closed") }
            let statement = connection.statement
            defer {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            }
            sqlite3_bind_int64(statement, 1, volumeID)
            // (SQLITE_TRANSIENT: SQLite copies the key.)
            _ = key.withCString { sqlite3_bind_text(statement, 2, $0, Int32(key.utf8.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
            var stored: StoredObject?
            while true {
                let code = sqlite3_step(statement)
                if code == SQLITE_DONE { return stored }
                guard code == SQLITE_ROW else {
                    throw DatabaseError(
                        resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(connection.db)), sql: Catalog.objectSQL)
                }
                try Catalog.add(RawRow(statement: statement, source: .raw(Catalog.objectSQL)), to: &stored)
            }
        }
    }

    /// Closes the connection (before the catalog's own, so that its files are let go first).
    func close() {
        connection.withLock { connection in
            if let open = connection {
                sqlite3_finalize(open.statement)
                sqlite3_close_v2(open.db)
            }
            connection = nil
        }
    }
}
