// What an object version carries beside its bytes, size and content type: stored headers and user
// metadata (`metadata`, kept by a PATCH) and whole-object checksums by algorithm (`checksums`,
// dropped by a PATCH since they no longer describe the bytes). Opaque string maps here: the API
// layer decides the names. Stored as JSON text in the objects row.
import Foundation

package struct ObjectAttributes: Sendable, Equatable, Hashable {
    package var metadata: [String: String]
    package var checksums: [String: String]

    package init(metadata: [String: String] = [:], checksums: [String: String] = [:]) {
        self.metadata = metadata
        self.checksums = checksums
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

    var storedMetadata: String? { Self.encode(metadata) }
    var storedChecksums: String? { Self.encode(checksums) }
}

extension ObjectRecord {
    package var attributes: ObjectAttributes {
        ObjectAttributes(metadata: ObjectAttributes.decode(metadata), checksums: ObjectAttributes.decode(checksums))
    }
}
