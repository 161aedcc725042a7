// S3 access keys in memory, for checking signatures without SQL or etcd on a request's path:
// loaded at start, changed only through here (admin API, bucket creation), each change written
// to where the keys are kept first (the backend): the pool's catalog on a standalone node, etcd in
// a fleet (AccessKeyStore+Fleet.swift). Secrets are sealed (AES-GCM, the key id as associated
// data) with a key kept in `<data-dir>/s3-secrets.key` (mode 0600), or in a fleet with the cluster
// key every node is given; neither the catalog nor etcd ever holds one in the clear.
import Crypto
package import Engine
package import Foundation
import Glibc
import Synchronization

package struct AccessKey: Sendable, Equatable {
    package enum Permission: String, Sendable, Comparable, CaseIterable {
        case read, write, owner
        private var rank: Int { self == .read ? 0 : self == .write ? 1 : 2 }
        package static func < (a: Permission, b: Permission) -> Bool { a.rank < b.rank }
    }

    package var id: String
    package var name: String
    package var secret: String
    /// Volume name (or `*`, every volume) → permission.
    package var permissions: [String: Permission]
    package var createBuckets: Bool
    package var createdAt: Date

    /// What this key may do in `volume`.
    package func permission(on volume: String) -> Permission? {
        [permissions[volume], permissions["*"]].compactMap { $0 }.max()
    }
}

/// Where a store's keys are kept (and changed first).
protocol AccessKeyBackend: Sendable {
    func insert(_ key: AccessKeyInfo) throws
    /// Changes a key's name, permissions or bucket creation in one transaction.
    func update(id: String, _ change: @escaping @Sendable (inout AccessKeyInfo) -> Void) throws -> AccessKeyInfo
    func delete(id: String) throws
}

/// The pool's catalog keeps a standalone node's keys.
struct CatalogAccessKeys: AccessKeyBackend {
    let engine: Engine

    func insert(_ key: AccessKeyInfo) throws { try engine.createAccessKey(key) }

    func update(id: String, _ change: @escaping @Sendable (inout AccessKeyInfo) -> Void) throws -> AccessKeyInfo {
        try engine.updateAccessKey(id: id) { info throws(EngineError) in change(&info) }
    }

    func delete(id: String) throws { try engine.deleteAccessKey(id: id) }
}

package final class AccessKeyStore: Sendable {
    package static let wildcard = "*"
    let backend: any AccessKeyBackend
    /// The sealing key's bytes (SymmetricKey is not Sendable).
    let sealingKeyBytes: [UInt8]
    var sealingKey: SymmetricKey { SymmetricKey(data: sealingKeyBytes) }
    let keys: Mutex<[String: AccessKey]>
    /// In a fleet: what is read from etcd besides the keys' changes here (nil: standalone).
    let fleet: FleetKeySync?

    package enum StoreError: Error, CustomStringConvertible {
        case keyFile(String)
        package var description: String {
            switch self {
            case .keyFile(let detail): "S3 secrets key file: \(detail)"
            }
        }
    }

    /// Keys in the catalog whose secret this data directory's key file cannot unseal (a pool
    /// imported into a new data directory): they sign nothing until deleted and created again.
    package let unreadable: [(id: String, name: String)]

    /// Loads every key, unsealing its secret with the key file at `keyFile` (created on first use).
    package convenience init(engine: Engine, keyFile: String) throws {
        let sealingKey = try Self.loadOrCreateSealingKey(keyFile)
        try self.init(
            backend: CatalogAccessKeys(engine: engine), sealingKey: sealingKey.withUnsafeBytes { Array($0) }, loading: try engine.accessKeys(),
            fleet: nil)
    }

    init(backend: any AccessKeyBackend, sealingKey: [UInt8], loading infos: [AccessKeyInfo], fleet: FleetKeySync?) throws {
        self.backend = backend
        sealingKeyBytes = sealingKey
        self.fleet = fleet
        let (loaded, unreadable) = Self.unsealAll(infos, key: SymmetricKey(data: sealingKey))
        keys = Mutex(loaded)
        self.unreadable = unreadable
    }

    /// Each key with its secret unsealed, and those whose secret `key` cannot unseal.
    static func unsealAll(_ infos: [AccessKeyInfo], key: SymmetricKey) -> ([String: AccessKey], [(id: String, name: String)]) {
        var loaded: [String: AccessKey] = [:]
        var unreadable: [(id: String, name: String)] = []
        for info in infos {
            guard let secret = Self.unseal(info.sealedSecret, id: info.id, key: key) else {
                unreadable.append((info.id, info.name))
                continue
            }
            loaded[info.id] = AccessKey(
                id: info.id, name: info.name, secret: secret, permissions: info.permissions.compactMapValues(AccessKey.Permission.init(rawValue:)),
                createBuckets: info.createBuckets, createdAt: info.createdAt)
        }
        return (loaded, unreadable)
    }

    package func key(id: String) -> AccessKey? { keys.withLock { $0[id] } }

    package var all: [AccessKey] { keys.withLock { Array($0.values) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }

    /// A new key with a random id and secret; the secret is returned here only.
    package func create(name: String, permissions: [String: AccessKey.Permission], createBuckets: Bool) throws -> AccessKey {
        let key = AccessKey(
            id: "AK" + Self.random(18, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), name: name,
            secret: Self.random(40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            permissions: permissions, createBuckets: createBuckets, createdAt: Date().truncatedToSeconds)
        try backend.insert(info(key, sealedSecret: try seal(key)))
        changed { $0[key.id] = key }
        return key
    }

    /// `key`'s secret sealed with this store's sealing key.
    func seal(_ key: AccessKey) throws -> Data {
        try AES.GCM.seal(Array(key.secret.utf8), using: sealingKey, authenticating: Array(key.id.utf8)).combined!
    }

    func info(_ key: AccessKey, sealedSecret: Data) -> AccessKeyInfo {
        AccessKeyInfo(
            id: key.id, name: key.name, sealedSecret: sealedSecret, permissions: key.permissions.mapValues(\.rawValue),
            createBuckets: key.createBuckets, createdAt: key.createdAt)
    }

    /// Changes the keys in memory (after the backend took the change). In a fleet, a view read
    /// before now is not adopted afterwards (it would undo the change until the next one).
    func changed(_ change: (inout [String: AccessKey]) -> Void) {
        guard let fleet else { return keys.withLock { change(&$0) } }
        fleet.state.withLock { state in
            keys.withLock { change(&$0) }
            state.changedAt = WriteFence.now()
        }
    }

    /// Changes a key (in the catalog first, then here).
    @discardableResult
    package func update(id: String, _ change: @escaping @Sendable (inout AccessKey) -> Void) throws -> AccessKey {
        guard let current = key(id: id) ?? lookUp(id: id) else { throw EngineError.accessKeyNotFound(id: id) }
        let updated = try backend.update(id: id) { info in
            var key = current
            key.name = info.name
            key.permissions = info.permissions.compactMapValues(AccessKey.Permission.init(rawValue:))
            key.createBuckets = info.createBuckets
            change(&key)
            info.name = key.name
            info.permissions = key.permissions.mapValues(\.rawValue)
            info.createBuckets = key.createBuckets
        }
        var key = current
        key.name = updated.name
        key.permissions = updated.permissions.compactMapValues(AccessKey.Permission.init(rawValue:))
        key.createBuckets = updated.createBuckets
        changed { $0[id] = key }
        return key
    }

    package func delete(id: String) throws {
        try backend.delete(id: id)
        changed { $0.removeValue(forKey: id) }
    }

    /// A volume was deleted: the backend dropped every key's permission on it (the catalog in
    /// the deletion's transaction, the fleet as it removed the volume's entry); so does memory.
    package func forgetVolume(_ name: String) {
        changed { keys in
            for id in keys.keys where keys[id]!.permissions[name] != nil { keys[id]!.permissions[name] = nil }
        }
    }

    /// First start: when there is no key at all, one that may create buckets and use every volume,
    /// written to `path` in the AWS shared-credentials format (profile `appliance`, mode 0600).
    package func bootstrapDefaultKey(credentialsFile path: String) throws -> AccessKey? {
        guard keys.withLock({ $0.isEmpty }) else { return nil }
        let key = try create(name: "default", permissions: [Self.wildcard: .owner], createBuckets: true)
        try Self.writeCredentials(path, key)
        return key
    }

    /// In a fleet, a node whose data directory has no credentials file gets one with the fleet's
    /// default key (the oldest named `default` that may do everything), as its first node did:
    /// every node unseals every key of the fleet anyway.
    package func writeFleetDefaultKey(credentialsFile path: String) throws -> AccessKey? {
        guard fleet != nil, !FileManager.default.fileExists(atPath: path),
            let key = all.first(where: { $0.name == "default" && $0.permissions == [Self.wildcard: .owner] && $0.createBuckets })
        else { return nil }
        try Self.writeCredentials(path, key)
        return key
    }

    /// The AWS shared-credentials format (profile `appliance`), mode 0600.
    static func writeCredentials(_ path: String, _ key: AccessKey) throws {
        try writePrivate(path, "[appliance]\naws_access_key_id = \(key.id)\naws_secret_access_key = \(key.secret)\n")
    }

    static func unseal(_ sealed: Data, id: String, key: SymmetricKey) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(id.utf8))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    static func loadOrCreateSealingKey(_ path: String) throws -> SymmetricKey {
        if let bytes = try readKeyFile(path) { return SymmetricKey(data: bytes) }
        let key = SymmetricKey(size: .bits256)
        try writePrivate(path, key.withUnsafeBytes { Data($0) })
        return key
    }

    /// The 32 bytes of the key file at `path`; nil when there is none.
    static func readKeyFile(_ path: String) throws -> [UInt8]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count == 32 else { throw StoreError.keyFile("\(path) must hold 32 bytes, it holds \(data.count)") }
        return Array(data)
    }

    /// Writes a file readable by its owner only (0600), durably.
    static func writePrivate(_ path: String, _ text: String) throws { try writePrivate(path, Data(text.utf8)) }

    static func writePrivate(_ path: String, _ data: Data) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StoreError.keyFile("cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else { throw StoreError.keyFile("cannot write \(path)") }
    }

    static func random(_ count: Int, alphabet: String) -> String {
        let letters = Array(alphabet)
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in letters[Int(generator.next(upperBound: UInt(letters.count)))] })
    }
}
