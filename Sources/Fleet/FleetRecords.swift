// What the fleet keeps in etcd, under one prefix, as JSON values:
//
//   <prefix>nodes/<node>            NodeRecord, attached to the node's lease (gone when it dies)
//   <prefix>pools/<pool>/owner      PoolOwnerRecord, attached to the pool's lease
//   <prefix>pools/<pool>/epoch      the pool's last epoch (decimal), kept: it only grows
//   <prefix>pools/<pool>/devices    PoolDevicesRecord: where the pool's devices are, kept
//   <prefix>pools/<pool>/keys-copied  set once the pool's own S3 keys were copied into the fleet
//   <prefix>volumes/<volume>        VolumeEntry: the pool a volume lives in, kept
//   <prefix>token-sha256            the SHA-256 (hex) of the admin token every node checks
//   <prefix>access-keys/<id>        AccessKeyEntry: an S3 access key, its secret sealed with the
//                                   cluster key (never in the clear here)
//   <prefix>cluster-key-check       HMAC-SHA256 (hex) of a constant under the cluster key: every
//                                   node checks it holds the same cluster key
package import Foundation

package struct FleetKeys: Sendable {
    package let prefix: String

    package init(prefix: String = "/appliance/") { self.prefix = prefix }

    package var nodes: String { prefix + "nodes/" }
    package func node(_ name: String) -> String { nodes + name }
    package var pools: String { prefix + "pools/" }
    package func poolOwner(_ pool: String) -> String { pools + pool + "/owner" }
    package func poolEpoch(_ pool: String) -> String { pools + pool + "/epoch" }
    package func poolDevices(_ pool: String) -> String { pools + pool + "/devices" }
    package func poolKeysCopied(_ pool: String) -> String { pools + pool + "/keys-copied" }
    package var volumes: String { prefix + "volumes/" }
    package func volume(_ name: String) -> String { volumes + name }
    package var tokenHash: String { prefix + "token-sha256" }
    package var accessKeys: String { prefix + "access-keys/" }
    package func accessKey(_ id: String) -> String { accessKeys + id }
    package var clusterKeyCheck: String { prefix + "cluster-key-check" }
}

/// A node of the fleet, as it publishes itself (refreshed by its keeper while it lives).
package struct NodeRecord: Codable, Sendable, Equatable {
    package var name: String
    /// Where its admin API (and native object API) answers.
    package var api: String
    /// Where its S3 endpoint answers (nil: none).
    package var s3: String?
    /// The pools it holds the lease of now.
    package var pools: [String]
    /// Its pools' free and total bytes (placement picks the most free).
    package var freeBytes: Int64
    package var capacityBytes: Int64
    /// Whether it takes over pools whose owner died (`--takeover`).
    package var takeover: Bool
    package var startedAt: String
    /// Set on the record of a pool a node took over (named `<node>~<pool>`): that node's name.
    /// Such a record serves its pool's volumes; new volumes are not placed there.
    package var servesFor: String? = nil
}

/// Who holds a pool's lease, and under which epoch.
package struct PoolOwnerRecord: Codable, Sendable, Equatable {
    package var node: String
    package var epoch: Int64
    package var lease: Int64
}

/// Where a pool's devices are: the paths its owner opened them at and their superblock UUIDs.
package struct PoolDevicesRecord: Codable, Sendable, Equatable {
    package struct Device: Codable, Sendable, Equatable {
        package var path: String
        package var id: String
    }

    package var devices: [Device]
}

/// A volume of the fleet: the pool it lives in (its owner serves it), and when it was entered
/// (seconds since 1970; absent in entries older builds wrote).
package struct VolumeEntry: Codable, Sendable, Equatable {
    package var pool: String
    package var createdAt: Int64?

    package init(pool: String, createdAt: Int64? = Int64(Date().timeIntervalSince1970)) {
        self.pool = pool
        self.createdAt = createdAt
    }
}

/// An S3 access key as the fleet keeps it: its secret sealed with the cluster key.
package struct AccessKeyEntry: Codable, Sendable, Equatable {
    package var id: String
    package var name: String
    package var sealedSecret: Data
    /// Volume name (or `*`) → read | write | owner.
    package var permissions: [String: String]
    package var createBuckets: Bool
    /// Seconds since 1970.
    package var createdAt: Int64
}

/// Lower-case hex digits of `bytes`, as the bytes etcd keeps (digests the fleet compares).
func fleetHex(_ bytes: some Sequence<UInt8>) -> [UInt8] {
    Array(bytes.map { String(format: "%02x", $0) }.joined().utf8)
}

enum FleetJSON {
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try? decoder.decode(type, from: Data(bytes))
    }
}
