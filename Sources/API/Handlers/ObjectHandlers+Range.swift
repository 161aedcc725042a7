import Foundation

// Range requests (RFC 9110 §14): one byte range per request; anything else is served whole.
extension ObjectHandlers {
    package enum RangeRequest: Equatable {
        case whole
        case partial(start: Int64, end: Int64)  // inclusive
        case unsatisfiable
    }

    /// Interprets a `Range` header against an object of `size` bytes. Syntax the server does not
    /// support (several ranges, other units, garbage) is ignored, as RFC 9110 allows.
    package static func parseRange(_ header: String?, size: Int64) -> RangeRequest {
        guard let header else { return .whole }
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return .whole }
        let spec = value.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let first = spec[..<dash].trimmingCharacters(in: .whitespaces)
        let last = spec[spec.index(after: dash)...].trimmingCharacters(in: .whitespaces)
        // A position past Int64 is past any object: the same as the largest one.
        func position(_ text: String) -> Int64? {
            switch WireNumber.parse(text) {
            case .value(let value): value
            case .tooLarge: .max
            case .malformed: nil
            }
        }
        if first.isEmpty {
            guard let suffix = position(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .partial(start: suffix >= size ? 0 : size - suffix, end: size - 1)
        }
        guard let start = position(first) else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let parsed = position(last) else { return .whole }
            guard parsed >= start else { return .whole }
            end = min(parsed, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .partial(start: start, end: end)
    }
}
