// JSON shapes of /v1/access-keys. The secret appears only in the answer to the key's creation.
import Engine
import Foundation

struct AccessKeyCreateJSON: Decodable {
    static let fields: Set<String> = ["name", "permissions", "create_buckets"]
    var name: String
    var permissions: [String: String]?
    var createBuckets: Bool?

    enum CodingKeys: String, CodingKey {
        case name, permissions
        case createBuckets = "create_buckets"
    }
}

struct AccessKeyUpdateJSON: Decodable {
    static let fields: Set<String> = ["name", "permissions", "create_buckets"]
    var name: String?
    var permissions: [String: String]?
    var createBuckets: Bool?

    enum CodingKeys: String, CodingKey {
        case name, permissions
        case createBuckets = "create_buckets"
    }
}

struct AccessKeyJSON: Encodable {
    var accessKeyID: String
    var name: String
    var permissions: [String: String]
    var createBuckets: Bool
    var createdAt: String
    /// Only when the key is created.
    var secretAccessKey: String?

    init(_ key: AccessKey, withSecret: Bool = false) {
        accessKeyID = key.id
        name = key.name
        permissions = key.permissions.mapValues(\.rawValue)
        createBuckets = key.createBuckets
        createdAt = ISO8601DateFormatter().string(from: key.createdAt)
        secretAccessKey = withSecret ? key.secret : nil
    }

    enum CodingKeys: String, CodingKey {
        case name, permissions
        case accessKeyID = "access_key_id"
        case createBuckets = "create_buckets"
        case createdAt = "created_at"
        case secretAccessKey = "secret_access_key"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(accessKeyID, forKey: .accessKeyID)
        try c.encode(name, forKey: .name)
        try c.encode(permissions, forKey: .permissions)
        try c.encode(createBuckets, forKey: .createBuckets)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(secretAccessKey, forKey: .secretAccessKey)
    }
}

struct AccessKeyListJSON: Encodable {
    var accessKeys: [AccessKeyJSON]
    enum CodingKeys: String, CodingKey { case accessKeys = "access_keys" }
}
