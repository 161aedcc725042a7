// One object version: a key in a volume with its size, ETag and content type. Its bytes are extents.
package import Foundation
package import GRDB

package struct ObjectRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "objects"

    package var id: Int64?
    package var volumeId: Int64
    package var key: String
    package var size: Int64
    package var etag: String
    package var contentType: String?
    package var createdAt: Date
    package var modifiedAt: Date
    /// Stored headers and user metadata, a JSON object of strings (nil: none).
    package var metadata: String?
    /// Whole-object checksums by algorithm, a JSON object of strings (nil: none).
    package var checksums: String?
    /// A multipart object's part sizes, run-length encoded (`ObjectAttributes.encode(parts:)`;
    /// nil: one part, or completed before part sizes were kept).
    package var parts: String?
    /// A version with an id of its own (`VersionID`), or the null version (false).
    package var versioned = false
    /// The key's newest row (its current version, or a delete marker that hides it).
    package var latest = true
    /// A delete marker: a version without bytes that says the key was deleted.
    package var deleteMarker = false
    /// The volume's epoch when the row was made (snapshots taken since do not see it).
    package var bornEpoch: Int64 = 0
    /// Set only on a row replaced or deleted while a snapshot saw it, kept for the snapshots:
    /// the epoch it died in. It is no version of the live volume.
    package var diedEpoch: Int64?
    /// A row of a clone that reads the bytes of the row it was made from (whose snapshot keeps
    /// it): it has no extents of its own, and frees none.
    package var dataRow: Int64?

    /// The version's id as clients see it.
    package var versionID: VersionID { VersionID(rowID: versioned ? id : nil) }

    package init(
        id: Int64?, volumeId: Int64, key: String, size: Int64, etag: String, contentType: String?, createdAt: Date, modifiedAt: Date,
        metadata: String? = nil, checksums: String? = nil, parts: String? = nil
    ) {
        self.parts = parts
        self.metadata = metadata
        self.checksums = checksums
        self.id = id
        self.volumeId = volumeId
        self.key = key
        self.size = size
        self.etag = etag
        self.contentType = contentType
        self.createdAt = createdAt
        self.modifiedAt = modifiedAt
    }

    /// Read by column name rather than through Codable's decoder, which was two thirds of decoding
    /// a row by callgrind (listings decode up to a thousand; `Catalog.object` reads by position).
    package init(row: Row) throws {
        id = try row.decode(forColumn: "id")
        volumeId = try row.decode(forColumn: "volumeId")
        key = try row.decode(forColumn: "key")
        size = try row.decode(forColumn: "size")
        etag = try row.decode(forColumn: "etag")
        contentType = try row.decode(forColumn: "contentType")
        createdAt = try row.decode(forColumn: "createdAt")
        modifiedAt = try row.decode(forColumn: "modifiedAt")
        metadata = try row.decode(forColumn: "metadata")
        checksums = try row.decode(forColumn: "checksums")
        parts = try row.decode(forColumn: "parts")
        versioned = try row.decode(forColumn: "versioned")
        latest = try row.decode(forColumn: "latest")
        deleteMarker = try row.decode(forColumn: "deleteMarker")
        bornEpoch = try row.decode(forColumn: "bornEpoch")
        diedEpoch = try row.decode(forColumn: "diedEpoch")
        dataRow = try row.decode(forColumn: "dataRow")
    }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
