// Decoding JSON request bodies: unknown fields, malformed JSON and wrong types become 400s that
// name the field.
import Foundation

enum JSONBody {
    /// Decodes a JSON object body. Fields outside `allowedFields` and `null` for fields outside
    /// `nullableFields` are 400s.
    static func decode<T: Decodable>(
        _: T.Type, from body: [UInt8], allowedFields: Set<String>, nullableFields: Set<String> = []
    ) throws(HTTPError) -> T {
        guard !body.isEmpty else { throw .badRequest("a JSON object body is required") }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            throw .badRequest("the body is not valid JSON")
        }
        guard let fields = object as? [String: Any] else { throw .badRequest("the body must be a JSON object") }
        if let unknown = fields.keys.sorted().first(where: { !allowedFields.contains($0) }) {
            throw .badRequest("unknown field '\(unknown)'")
        }
        if let null = fields.keys.sorted().first(where: { fields[$0] is NSNull && !nullableFields.contains($0) }) {
            throw .badRequest("field '\(null)' must not be null")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
                let field = fields.keys.sorted().first(where: { key in
                    guard let number = fields[key] as? NSNumber, !(fields[key] is Bool) else { return false }
                    return Int64(exactly: number.doubleValue) == nil || number.doubleValue.magnitude >= 9.2e18
                })
            {
                throw .badRequest("field '\(field)' must be an integer that fits in 64 bits")
            }
            throw .badRequest(describe(error))
        } catch {
            throw .badRequest("the body could not be decoded")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func field(_ path: [any CodingKey]) -> String {
            path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .typeMismatch(let type, let context): return "field '\(field(context.codingPath))' must be \(name(of: type))"
        case .valueNotFound(let type, let context): return "field '\(field(context.codingPath))' must be \(name(of: type)), not null"
        case .keyNotFound(let key, let context): return "field '\(field(context.codingPath + [key]))' is required"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "field '\(field(context.codingPath))' has an invalid value"
        @unknown default: return "the body could not be decoded"
        }
    }

    private static func name(of type: Any.Type) -> String {
        switch type {
        case is Int64.Type, is Int.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is String.Type: "a string"
        default: "\(type)"
        }
    }
}

/// Query parameters that must be booleans.
enum QueryValues {
    static func bool(_ name: String, in request: HTTPRequest, default value: Bool) throws(HTTPError) -> Bool {
        guard let entry = request.query.last(where: { $0.name == name }) else { return value }
        switch entry.value.flatMap({ PercentDecoding.decode($0, plusIsSpace: true) }) {
        case "true": return true
        case "false": return false
        default: throw .badRequest("query parameter '\(name)' must be true or false")
        }
    }
}
