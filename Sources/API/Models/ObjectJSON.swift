// Wire DTOs for objects (openapi.yaml: Object, ObjectList) and HTTP-date formatting.
import Engine
import Foundation
import Glibc

struct ObjectJSON: Codable, Sendable, Equatable {
    var key: String
    var size: Int64
    var etag: String
    var contentType: String
    var lastModified: String

    enum CodingKeys: String, CodingKey {
        case key, size, etag
        case contentType = "content_type"
        case lastModified = "last_modified"
    }

    init(_ info: ObjectInfo) {
        key = info.key
        size = info.size
        etag = ObjectHandlers.quotedETag(info)
        contentType = info.contentType ?? ObjectHandlers.defaultContentType
        lastModified = info.modifiedAt.wireFormat
    }
}

struct ObjectListJSON: Codable, Sendable {
    var objects: [ObjectJSON]
    /// Pass as `start_after` to get the next page; null on the last page.
    var nextStartAfter: String?

    enum CodingKeys: String, CodingKey {
        case objects
        case nextStartAfter = "next_start_after"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(objects, forKey: .objects)
        try c.encode(nextStartAfter, forKey: .nextStartAfter)
    }
}

enum HTTPDate {
    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func format(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
