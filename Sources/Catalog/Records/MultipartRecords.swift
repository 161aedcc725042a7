// Multipart uploads (S3): an upload names its object-to-be; each part is written as extents of
// its own (part_extents, part_extent_replicas), and Complete moves those rows to the new object
// version without copying data. A completed upload keeps its row (completedETag) so a retried
// Complete gets the same answer.
package import Foundation
package import GRDB

package struct UploadRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "multipart_uploads"

    package var id: String
    package var volumeId: Int64
    package var key: String
    package var contentType: String?
    package var metadata: String?
    package var checksumAlgorithm: String?
    package var createdAt: Date
    package var completedETag: String?
    package var completedAt: Date?

    package init(
        id: String, volumeId: Int64, key: String, contentType: String?, metadata: [String: String], checksumAlgorithm: String?, createdAt: Date
    ) {
        self.id = id
        self.volumeId = volumeId
        self.key = key
        self.contentType = contentType
        self.metadata = ObjectAttributes.encode(metadata)
        self.checksumAlgorithm = checksumAlgorithm
        self.createdAt = createdAt
    }

    package var metadataMap: [String: String] { ObjectAttributes.decode(metadata) }
}

package struct PartRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    package static let databaseTableName = "multipart_parts"

    package var id: Int64?
    package var uploadId: String
    package var partNumber: Int64
    package var size: Int64
    package var etag: String
    package var checksums: String?
    package var createdAt: Date

    package var checksumMap: [String: String] { ObjectAttributes.decode(checksums) }

    package mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// A part's extents, as stored.
package struct StoredPart: Sendable, Equatable {
    package var record: PartRecord
    package var extents: [StoredExtent]
}

/// A part as a Complete request lists it.
package struct CompletedPart: Sendable, Equatable {
    package var partNumber: Int64
    package var etag: String

    package init(partNumber: Int64, etag: String) {
        self.partNumber = partNumber
        self.etag = etag
    }
}
