// S3 access keys, as the catalog holds them (the secret sealed by the API layer, never in the
// clear here). The API layer keeps its own copy in memory for request signing checks.
import Catalog
package import Foundation
import Logging

package struct AccessKeyInfo: Sendable, Equatable {
    package var id: String
    package var name: String
    package var sealedSecret: Data
    /// Volume name → read | write | owner.
    package var permissions: [String: String]
    package var createBuckets: Bool
    package var createdAt: Date

    package init(id: String, name: String, sealedSecret: Data, permissions: [String: String], createBuckets: Bool, createdAt: Date) {
        self.id = id
        self.name = name
        self.sealedSecret = sealedSecret
        self.permissions = permissions
        self.createBuckets = createBuckets
        self.createdAt = createdAt
    }

    init(_ record: AccessKeyRecord) {
        self.init(
            id: record.id, name: record.name, sealedSecret: record.sealedSecret, permissions: record.permissionMap,
            createBuckets: record.createBuckets, createdAt: record.createdAt)
    }
}

extension Engine {
    package func createAccessKey(_ key: AccessKeyInfo) throws(EngineError) {
        let record = AccessKeyRecord(
            id: key.id, name: key.name, sealedSecret: key.sealedSecret, permissions: key.permissions, createBuckets: key.createBuckets,
            createdAt: key.createdAt.truncatedToSeconds)
        try catalogCall(duplicate: .invalidArgument(field: "access_key_id", reason: "already exists")) {
            try catalog.insertAccessKey(record, checkVolumes: Self.refuseMissingVolumes)
        }
    }

    /// A permission names a volume that exists (or `*`): granted on a free name, it would hand the
    /// volume someone creates later under that name to this key.
    package static func refuseMissingVolumes(_ missing: [String]) throws(EngineError) {
        if missing.isEmpty { return }
        let names = missing.map { "'\($0)'" }.joined(separator: ", ")
        throw .invalidArgument(
            field: "permissions", reason: "no volume named \(names): grant a permission once the volume exists, or '*' for every volume")
    }

    /// At open: a catalog written before grants were checked may hold permissions on names no
    /// volume has; they are dropped (and logged), so no later volume inherits them.
    func forgetPermissionsOnMissingVolumes() throws(EngineError) {
        for (key, volume) in try catalogCall({ try catalog.forgetPermissionsOnMissingVolumes() }) {
            logger.warning("dropped an access key's permission on a volume that does not exist", metadata: ["key": "\(key)", "volume": "\(volume)"])
        }
    }

    package func accessKeys() throws(EngineError) -> [AccessKeyInfo] {
        try catalogCall { try catalog.accessKeys() }.map(AccessKeyInfo.init)
    }

    /// Changes a key's name, permissions or bucket creation in one transaction.
    package func updateAccessKey(id: String, _ change: @escaping (inout AccessKeyInfo) throws(EngineError) -> Void) throws(EngineError)
        -> AccessKeyInfo
    {
        let record = try catalogCall(notFound: .accessKeyNotFound(id: id)) {
            try catalog.updateAccessKey(
                id: id,
                { record in
                    var info = AccessKeyInfo(record)
                    try change(&info)
                    record.name = info.name
                    record.permissionMap = info.permissions
                    record.createBuckets = info.createBuckets
                }, checkVolumes: Self.refuseMissingVolumes)
        }
        return AccessKeyInfo(record)
    }

    package func deleteAccessKey(id: String) throws(EngineError) {
        try catalogCall(notFound: .accessKeyNotFound(id: id)) { try catalog.deleteAccessKey(id: id) }
    }
}
