// An S3 access key: its id, a name, its secret sealed with the data dir's key file (the catalog
// never holds it in the clear), per-volume permissions (JSON: volume name → read|write|owner) and
// whether it may create buckets.
package import Foundation
import GRDB

package struct AccessKeyRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    package static let databaseTableName = "access_keys"

    package var id: String
    package var name: String
    package var sealedSecret: Data
    package var permissions: String
    package var createBuckets: Bool
    package var createdAt: Date

    package init(id: String, name: String, sealedSecret: Data, permissions: [String: String], createBuckets: Bool, createdAt: Date) {
        self.id = id
        self.name = name
        self.sealedSecret = sealedSecret
        self.permissions = ObjectAttributes.encode(permissions) ?? "{}"
        self.createBuckets = createBuckets
        self.createdAt = createdAt
    }

    package var permissionMap: [String: String] {
        get { ObjectAttributes.decode(permissions) }
        set { permissions = ObjectAttributes.encode(newValue) ?? "{}" }
    }
}
