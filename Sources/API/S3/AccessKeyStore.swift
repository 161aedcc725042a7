// S3 access keys in memory, for checking signatures without SQL on a request's path: loaded from
// the catalog at start, changed only through here (admin API, bucket creation), each change written
// to the catalog first. Secrets are sealed (AES-GCM, the key id as associated data) with a key
// kept in `<data-dir>/s3-secrets.key` (mode 0600); the catalog never holds one in the clear.
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

package final class AccessKeyStore: Sendable {
    package static let wildcard = "*"
    private let engine: Engine
    /// The sealing key's bytes (SymmetricKey is not Sendable).
    private let sealingKeyBytes: [UInt8]
    private var sealingKey: SymmetricKey { SymmetricKey(data: sealingKeyBytes) }
    private let keys: Mutex<[String: AccessKey]>

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
    package init(engine: Engine, keyFile: String) throws {
        self.engine = engine
        let sealingKey = try Self.loadOrCreateSealingKey(keyFile)
        sealingKeyBytes = sealingKey.withUnsafeBytes { Array($0) }
        var loaded: [String: AccessKey] = [:]
        var unreadable: [(id: String, name: String)] = []
        for info in try engine.accessKeys() {
            guard let secret = Self.unseal(info.sealedSecret, id: info.id, key: sealingKey) else {
                unreadable.append((info.id, info.name))
                continue
            }
            loaded[info.id] = AccessKey(
                id: info.id, name: info.name, secret: secret, permissions: info.permissions.compactMapValues(AccessKey.Permission.init(rawValue:)),
                createBuckets: info.createBuckets, createdAt: info.createdAt)
        }
        keys = Mutex(loaded)
        self.unreadable = unreadable
    }

    package func key(id: String) -> AccessKey? { keys.withLock { $0[id] } }

    package var all: [AccessKey] { keys.withLock { Array($0.values) }.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) } }

    /// A new key with a random id and secret; the secret is returned here only.
    package func create(name: String, permissions: [String: AccessKey.Permission], createBuckets: Bool) throws -> AccessKey {
        let key = AccessKey(
            id: "AK" + Self.random(18, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), name: name,
            secret: Self.random(40, alphabet: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            permissions: permissions, createBuckets: createBuckets, createdAt: Date().truncatedToSeconds)
        let sealed = try AES.GCM.seal(Array(key.secret.utf8), using: sealingKey, authenticating: Array(key.id.utf8)).combined!
        try engine.createAccessKey(
            AccessKeyInfo(
                id: key.id, name: key.name, sealedSecret: sealed, permissions: permissions.mapValues(\.rawValue), createBuckets: createBuckets,
                createdAt: key.createdAt))
        keys.withLock { $0[key.id] = key }
        return key
    }

    /// Changes a key (in the catalog first, then here).
    @discardableResult
    package func update(id: String, _ change: @escaping @Sendable (inout AccessKey) -> Void) throws(EngineError) -> AccessKey {
        guard let current = key(id: id) else { throw .accessKeyNotFound(id: id) }
        let updated = try engine.updateAccessKey(id: id) { info throws(EngineError) in
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
        keys.withLock { $0[id] = key }
        return key
    }

    package func delete(id: String) throws(EngineError) {
        try engine.deleteAccessKey(id: id)
        _ = keys.withLock { $0.removeValue(forKey: id) }
    }

    /// A volume was deleted: the catalog dropped every key's permission on it; so does memory.
    package func forgetVolume(_ name: String) {
        keys.withLock { keys in
            for id in keys.keys where keys[id]!.permissions[name] != nil { keys[id]!.permissions[name] = nil }
        }
    }

    /// First start: when there is no key at all, one that may create buckets and use every volume,
    /// written to `path` in the AWS shared-credentials format (profile `appliance`, mode 0600).
    package func bootstrapDefaultKey(credentialsFile path: String) throws -> AccessKey? {
        guard keys.withLock({ $0.isEmpty }) else { return nil }
        let key = try create(name: "default", permissions: [Self.wildcard: .owner], createBuckets: true)
        let text = "[appliance]\naws_access_key_id = \(key.id)\naws_secret_access_key = \(key.secret)\n"
        try Self.writePrivate(path, text)
        return key
    }

    static func unseal(_ sealed: Data, id: String, key: SymmetricKey) -> String? {
        guard let box = try? AES.GCM.SealedBox(combined: sealed),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Array(id.utf8))
        else { return nil }
        return String(decoding: plain, as: UTF8.self)
    }

    static func loadOrCreateSealingKey(_ path: String) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path) {
            guard data.count == 32 else { throw StoreError.keyFile("\(path) must hold 32 bytes, it holds \(data.count)") }
            return SymmetricKey(data: data)
        }
        let key = SymmetricKey(size: .bits256)
        try writePrivate(path, key.withUnsafeBytes { Data($0) })
        return key
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
