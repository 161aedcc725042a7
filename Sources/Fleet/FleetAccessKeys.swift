// The fleet's S3 access keys in etcd (`<prefix>access-keys/<id>`): one set for every node, their
// secrets sealed with the cluster key (the API layer seals and unseals; etcd never holds a secret
// in the clear). A permission names a volume of the fleet's directory (or `*`): a grant is one
// transaction that holds only while every volume it names is entered, and a volume's entry or
// removal drops every permission on its name. `cluster-key-check` lets each node check it holds
// the fleet's cluster key before it seals anything.
import Crypto
package import Engine
import Foundation

package struct FleetAccessKeys: Sendable {
    let etcd: EtcdClient
    let keys: FleetKeys

    /// A concurrent change of the same key is retried this many times.
    private static let attempts = 8

    package func all() throws(EtcdError) -> [AccessKeyEntry] {
        try etcd.list(prefix: keys.accessKeys).compactMap { FleetJSON.decode(AccessKeyEntry.self, $0.value) }
    }

    package func get(_ id: String) throws(EtcdError) -> AccessKeyEntry? {
        try etcd.get(keys.accessKey(id)).flatMap { FleetJSON.decode(AccessKeyEntry.self, $0.value) }
    }

    /// Adds a key: refused when its id exists or a permission names a volume the fleet has not.
    package func insert(_ entry: AccessKeyEntry) throws {
        let named = Self.volumes(entry)
        let result = try etcd.transaction(
            [.absent(keys.accessKey(entry.id))] + named.map { .present(keys.volume($0)) },
            success: [.put(keys.accessKey(entry.id), FleetJSON.encode(entry))],
            failure: [.get(keys.accessKey(entry.id))] + named.map { .get(keys.volume($0)) })
        if result.succeeded { return }
        if result.found.first?.isEmpty == false { throw EngineError.invalidArgument(field: "access_key_id", reason: "already exists") }
        try Engine.refuseMissingVolumes(Self.missing(named, result.found.dropFirst()))
    }

    /// Copies a key in unless the fleet has one of its id (no volume check: `entry` names only
    /// volumes of the pool that had it); true when copied.
    package func insertIfAbsent(_ entry: AccessKeyEntry) throws(EtcdError) -> Bool {
        try etcd.transaction([.absent(keys.accessKey(entry.id))], success: [.put(keys.accessKey(entry.id), FleetJSON.encode(entry))]).succeeded
    }

    /// Whether `pool`'s own keys (from before its node joined) were copied in: they are once, so
    /// a key deleted in the fleet does not come back when that node starts again.
    package func copied(from pool: String) throws(EtcdError) -> Bool { try etcd.get(keys.poolKeysCopied(pool)) != nil }

    package func markCopied(from pool: String) throws(EtcdError) { try etcd.put(keys.poolKeysCopied(pool), Array("1".utf8)) }

    /// Changes a key in one transaction, read again and retried when another change came between.
    package func update(id: String, _ change: (inout AccessKeyEntry) throws -> Void) throws -> AccessKeyEntry {
        for _ in 0..<Self.attempts {
            guard let found = try etcd.get(keys.accessKey(id)), var entry = FleetJSON.decode(AccessKeyEntry.self, found.value) else {
                throw EngineError.accessKeyNotFound(id: id)
            }
            try change(&entry)
            let named = Self.volumes(entry)
            let result = try etcd.transaction(
                [.modRevision(found.key, equals: found.modRevision)] + named.map { .present(keys.volume($0)) },
                success: [.put(found.key, FleetJSON.encode(entry))],
                failure: [.get(found.key)] + named.map { .get(keys.volume($0)) })
            if result.succeeded { return entry }
            if result.found.first?.first?.modRevision != found.modRevision { continue }  // changed (or deleted) meanwhile
            try Engine.refuseMissingVolumes(Self.missing(named, result.found.dropFirst()))
        }
        throw EtcdError.refused(status: 409, message: "access key \(id) kept changing under this change; try again")
    }

    package func delete(id: String) throws {
        let result = try etcd.transaction([.present(keys.accessKey(id))], success: [.delete(keys.accessKey(id))])
        if !result.succeeded { throw EngineError.accessKeyNotFound(id: id) }
    }

    /// Drops every key's permission on `volume` (deleted, or entered anew).
    package func forgetPermissions(on volume: String) throws(EtcdError) {
        for listed in try etcd.list(prefix: keys.accessKeys) {
            var kv: EtcdKeyValue? = listed
            for _ in 0..<Self.attempts {
                guard let current = kv, var entry = FleetJSON.decode(AccessKeyEntry.self, current.value), entry.permissions[volume] != nil
                else { break }
                entry.permissions[volume] = nil
                let result = try etcd.transaction(
                    [.modRevision(current.key, equals: current.modRevision)], success: [.put(current.key, FleetJSON.encode(entry))],
                    failure: [.get(current.key)])
                if result.succeeded { break }
                kv = result.found.first?.first  // changed meanwhile: again, from what it is now
            }
        }
    }

    // MARK: the cluster key

    /// Whether a key is the fleet's cluster key.
    package enum ClusterKeyStanding: Sendable, Equatable {
        case same
        case other
    }

    /// Whether a node made a cluster key the fleet's.
    package func clusterKeyClaimed() throws(EtcdError) -> Bool { try etcd.get(keys.clusterKeyCheck) != nil }

    /// Makes `key` the fleet's cluster key unless one was claimed; its standing afterwards.
    package func claim(clusterKey key: [UInt8]) throws(EtcdError) -> ClusterKeyStanding {
        let result = try etcd.transaction(
            [.absent(keys.clusterKeyCheck)], success: [.put(keys.clusterKeyCheck, Self.check(key))], failure: [.get(keys.clusterKeyCheck)])
        if result.succeeded { return .same }
        return result.found.first?.first?.value == Self.check(key) ? .same : .other
    }

    /// HMAC-SHA256 (hex) of a constant under the key: tells keys apart without revealing one.
    static func check(_ key: [UInt8]) -> [UInt8] {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("appliance cluster key check".utf8), using: SymmetricKey(data: key))
        return fleetHex(mac)
    }

    // MARK: helpers

    private static func volumes(_ entry: AccessKeyEntry) -> [String] { entry.permissions.keys.filter { $0 != "*" }.sorted() }

    /// The names among `named` whose `get` found nothing.
    private static func missing(_ named: [String], _ found: ArraySlice<[EtcdKeyValue]>) -> [String] {
        zip(named, found).filter { $0.1.isEmpty }.map(\.0)
    }
}

extension AccessKeyEntry {
    package init(_ info: AccessKeyInfo) {
        self.init(
            id: info.id, name: info.name, sealedSecret: info.sealedSecret, permissions: info.permissions, createBuckets: info.createBuckets,
            createdAt: Int64(info.createdAt.timeIntervalSince1970))
    }

    package var info: AccessKeyInfo {
        AccessKeyInfo(
            id: id, name: name, sealedSecret: sealedSecret, permissions: permissions, createBuckets: createBuckets,
            createdAt: Date(timeIntervalSince1970: TimeInterval(createdAt)))
    }
}
