// What an object version carries beside its bytes, size and content type: stored headers and user
// metadata (`metadata`, kept by a PATCH), whole-object checksums by algorithm (`checksums`) and a
// multipart object's part sizes (`parts`), both dropped by a PATCH since they no longer describe
// the bytes. Opaque string maps here: the API layer decides the names. Stored as text in the
// objects row (JSON; the part sizes run-length encoded).
import Foundation

package struct ObjectAttributes: Sendable, Equatable, Hashable {
    package var metadata: [String: String]
    package var checksums: [String: String]
    /// Part sizes in order (a Complete's parts); empty: one part.
    package var parts: [Int64]

    package init(metadata: [String: String] = [:], checksums: [String: String] = [:], parts: [Int64] = []) {
        self.metadata = metadata
        self.checksums = checksums
        self.parts = parts
    }

    package static let none = ObjectAttributes()

    /// JSON text of a map (nil for an empty one), as stored.
    static func encode(_ map: [String: String]) -> String? {
        guard !map.isEmpty, let data = try? JSONSerialization.data(withJSONObject: map, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    static func decode(_ text: String?) -> [String: String] {
        guard let text, let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String] else { return [:] }
        return object
    }

    /// Part sizes as stored: runs of equal sizes as `size*count`, comma-separated (nil: none).
    static func encode(parts: [Int64]) -> String? {
        guard !parts.isEmpty else { return nil }
        var runs: [(size: Int64, count: Int)] = []
        for size in parts {
            if let last = runs.last, last.size == size { runs[runs.count - 1].count += 1 } else { runs.append((size, 1)) }
        }
        return runs.map { $0.count == 1 ? String($0.size) : "\($0.size)*\($0.count)" }.joined(separator: ",")
    }

    /// The sizes `encode(parts:)` wrote; empty for nil or anything else.
    static func decodeParts(_ text: String?) -> [Int64] {
        guard let text, !text.isEmpty else { return [] }
        var parts: [Int64] = []
        for run in text.split(separator: ",", omittingEmptySubsequences: false) {
            let fields = run.split(separator: "*", omittingEmptySubsequences: false)
            guard (1...2).contains(fields.count), let size = Int64(fields[0]), size >= 0,
                let count = fields.count == 2 ? Int(fields[1]) : 1, (1...10_000).contains(count), parts.count + count <= 10_000
            else { return [] }
            parts += repeatElement(size, count: count)
        }
        return parts
    }

    var storedMetadata: String? { Self.encode(metadata) }
    var storedChecksums: String? { Self.encode(checksums) }
    var storedParts: String? { Self.encode(parts: parts) }
}

extension ObjectRecord {
    package var attributes: ObjectAttributes {
        ObjectAttributes(
            metadata: ObjectAttributes.decode(metadata), checksums: ObjectAttributes.decode(checksums), parts: ObjectAttributes.decodeParts(parts))
    }
}
