// Wire DTOs for objects (openapi.yaml: Object, ObjectList) and HTTP-date formatting.
import Catalog
import Engine
import Foundation
import Glibc

struct ObjectJSON: Codable, Sendable, Equatable {
    var key: String
    var size: Int64
    var etag: String
    var contentType: String
    var lastModified: String
    /// The version ("null": the null version); absent from listings of current objects.
    var versionID: String?

    enum CodingKeys: String, CodingKey {
        case key, size, etag
        case contentType = "content_type"
        case lastModified = "last_modified"
        case versionID = "version_id"
    }

    init(_ info: ObjectInfo) {
        key = info.key
        size = info.size
        etag = ObjectHandlers.quotedETag(info)
        contentType = info.contentType ?? ObjectHandlers.defaultContentType
        lastModified = info.modifiedAt.wireFormat
        versionID = info.versionID.description
    }
}

/// One entry of a volume's versions listing: a version or a delete marker.
struct VersionJSON: Codable, Sendable, Equatable {
    var key: String
    var versionID: String
    var isLatest: Bool
    var deleteMarker: Bool
    var size: Int64
    /// nil for a delete marker.
    var etag: String?
    var lastModified: String

    enum CodingKeys: String, CodingKey {
        case key, size, etag
        case versionID = "version_id"
        case isLatest = "is_latest"
        case deleteMarker = "delete_marker"
        case lastModified = "last_modified"
    }

    init(_ info: ObjectInfo) {
        key = info.key
        versionID = info.versionID.description
        isLatest = info.isLatest
        deleteMarker = info.deleteMarker
        size = info.size
        etag = info.deleteMarker ? nil : ObjectHandlers.quotedETag(info)
        lastModified = info.modifiedAt.wireFormat
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(versionID, forKey: .versionID)
        try c.encode(isLatest, forKey: .isLatest)
        try c.encode(deleteMarker, forKey: .deleteMarker)
        try c.encode(size, forKey: .size)
        try c.encode(etag, forKey: .etag)
        try c.encode(lastModified, forKey: .lastModified)
    }
}

struct VersionListJSON: Codable, Sendable {
    var versions: [VersionJSON]
    /// Pass as `key_marker` and `version_id_marker` for the next page; null on the last page.
    var nextKeyMarker: String?
    var nextVersionIDMarker: String?

    enum CodingKeys: String, CodingKey {
        case versions
        case nextKeyMarker = "next_key_marker"
        case nextVersionIDMarker = "next_version_id_marker"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(versions, forKey: .versions)
        try c.encode(nextKeyMarker, forKey: .nextKeyMarker)
        try c.encode(nextVersionIDMarker, forKey: .nextVersionIDMarker)
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
    /// IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`: built from the civil date by arithmetic
    /// (`strftime` and its buffers were 3,600 instructions of every GET's Last-Modified).
    static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, time) = CivilDate.days(seconds, per: 86_400)
        let civil = CivilDate(daysSince1970: days)
        let (year, month, day) = (civil.year, civil.month, civil.day)
        guard (1000...9999).contains(year) else { return formattedByStrftime(date) }
        let weekday = Int(((days + 4) % 7 + 7) % 7)  // 1970-01-01 was a Thursday.
        let names: StaticString = "SunMonTueWedThuFriSatJanFebMarAprMayJunJulAugSepOctNovDec"
        return String(unsafeUninitializedCapacity: 29) { out in
            names.withUTF8Buffer { names in
                func put(_ at: Int, _ name: Int) { for i in 0..<3 { out[at + i] = names[name * 3 + i] } }
                func digits(_ at: Int, _ value: Int64, _ count: Int) { RFC3339.writeDigits(value, count: count, into: out, at: at) }
                put(0, weekday)
                out[3] = UInt8(ascii: ",")
                out[4] = 32
                digits(5, day, 2)
                out[7] = 32
                put(8, 7 + Int(month) - 1)
                out[11] = 32
                digits(12, year, 4)
                out[16] = 32
                digits(17, time / 3600, 2)
                out[19] = UInt8(ascii: ":")
                digits(20, time / 60 % 60, 2)
                out[22] = UInt8(ascii: ":")
                digits(23, time % 60, 2)
                for (i, byte) in " GMT".utf8.enumerated() { out[25 + i] = byte }
            }
            return 29
        }
    }

    /// `format` by the C library: years outside 1000–9999 (whose width it keeps), and the tests' reference.
    static func formattedByStrftime(_ date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
