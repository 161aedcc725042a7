// Rows read straight off SQLite's statement, by column position: for the hottest reads (a key's
// load, a commit's lookup of the version it replaces). GRDB's `Row` builds a column-name index
// for every cursor it opens (measured with callgrind: ~18,000 instructions a fetch, two fetches a
// small PUT); these reads need none of it.
import Foundation
import GRDB
import GRDBSQLite

extension Statement {
    /// Runs the statement with `arguments` and calls `body` with each result row; the statement
    /// is reset afterwards (its read snapshot released), whatever happens.
    func forEachRawRow(arguments: StatementArguments, _ body: (RawRow) throws -> Void) throws {
        try setArguments(arguments)
        defer { sqlite3_reset(sqliteStatement) }
        while true {
            let code = sqlite3_step(sqliteStatement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else {
                let message = String(cString: sqlite3_errmsg(sqlite3_db_handle(sqliteStatement)))
                throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message, sql: sql)
            }
            try body(RawRow(statement: sqliteStatement, source: .grdb(self)))
        }
    }
}

/// One row of `forEachRawRow`, valid only inside its call.
struct RawRow {
    let statement: SQLiteStatement
    /// For an error's message only: GRDB's `Statement.sql` trims the statement's text through
    /// Foundation on every call (~210,000 instructions for the object query: it was 45 % of a
    /// cold GET when every row asked for it).
    let source: Source

    enum Source {
        case grdb(Statement)
        /// A statement of a connection of our own (`CatalogKeyReader`), by its text.
        case raw(String)

        var sql: String {
            switch self {
            case .grdb(let statement): statement.sql
            case .raw(let sql): sql
            }
        }
    }

    func isNull(_ column: CInt) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func int64(_ column: CInt) -> Int64 { Int64(sqliteStatement: statement, index: column) }

    func string(_ column: CInt) -> String { String(sqliteStatement: statement, index: column) }

    func optionalString(_ column: CInt) -> String? { isNull(column) ? nil : string(column) }

    func data(_ column: CInt) -> Data { Data(sqliteStatement: statement, index: column) }

    func optionalData(_ column: CInt) -> Data? { isNull(column) ? nil : data(column) }

    func date(_ column: CInt) throws -> Date {
        if sqlite3_column_type(statement, column) == SQLITE_TEXT, let text = sqlite3_column_text(statement, column),
            let date = StoredDate.date(UnsafeBufferPointer(start: text, count: Int(sqlite3_column_bytes(statement, column))))
        {
            return date
        }
        guard let date = Date(sqliteStatement: statement, index: column) else {
            throw DatabaseError(resultCode: .SQLITE_MISMATCH, message: "column \(column) is not a date", sql: source.sql)
        }
        return date
    }
}
