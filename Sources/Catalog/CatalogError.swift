// Catalog errors: specific cases for what callers act on, `database` for everything else.
import GRDB

package enum CatalogError: Error, Sendable, Equatable, CustomStringConvertible {
    case notFound(String)
    /// A UNIQUE constraint: the named thing already exists.
    case duplicate(String)
    case database(String)

    static func wrap(_ error: any Error) -> CatalogError {
        if let error = error as? CatalogError { return error }
        if let error = error as? DatabaseError,
            error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE
                || error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY
        {
            return .duplicate(error.message ?? "duplicate")
        }
        return .database(String(describing: error))
    }

    package var description: String {
        switch self {
        case .notFound(let what): "not found: \(what)"
        case .duplicate(let what): "duplicate: \(what)"
        case .database(let detail): "database error: \(detail)"
        }
    }
}
