// A fleet's access keys: one set in etcd for every node, their secrets sealed with the cluster key
// (`--cluster-key-file`, the same 32 bytes on every node; etcd holds only an HMAC that tells
// whether a node's key is the fleet's). The store keeps them in memory as on a standalone node,
// takes each view the fleet member reads (every quarter lease), and reads a key it does not know
// from etcd when a request names it (made through another node since). A node's own keys from
// before it joined are copied in.
import Crypto
package import Engine
package import Fleet
import Foundation
import Glibc
import Synchronization

/// etcd keeps a fleet's keys.
struct FleetAccessKeyBackend: AccessKeyBackend {
    let keys: FleetAccessKeys

    func insert(_ key: AccessKeyInfo) throws { try keys.insert(AccessKeyEntry(key)) }

    func update(id: String, _ change: @escaping @Sendable (inout AccessKeyInfo) -> Void) throws -> AccessKeyInfo {
        try keys.update(id: id) { entry in
            var info = entry.info
            change(&info)
            entry = AccessKeyEntry(info)
        }.info
    }

    func delete(id: String) throws { try keys.delete(id: id) }
}

/// Which unknown key ids may be looked up in etcd now: an id not found is not asked again for a
/// second, and a second has at most `perSecond` lookups. Unknown ids cannot make every request an
/// etcd read.
struct KeyLookupBudget {
    static let missLimit = 4096
    static let missNanoseconds: Int64 = 1_000_000_000
    let perSecond: Int
    private var missed: [String: Int64] = [:]
    private var second: Int64 = 0
    private var lookups = 0

    init(perSecond: Int = 64) { self.perSecond = perSecond }

    /// Whether `id` may be looked up at `now` (nanoseconds, monotonic); counts the lookup.
    mutating func admit(_ id: String, now: Int64) -> Bool {
        if let at = missed[id], now - at < Self.missNanoseconds { return false }
        if now / 1_000_000_000 != second { (second, lookups) = (now / 1_000_000_000, 0) }
        guard lookups < perSecond else { return false }
        lookups += 1
        return true
    }

    /// `id` was looked up at `now` and not found.
    mutating func missed(_ id: String, now: Int64) {
        if missed.count >= Self.missLimit { missed.removeAll() }
        missed[id] = now
    }
}

/// What a fleet's store knows besides its keys: when it last changed one, and its lookup budget.
final class FleetKeySync: Sendable {
    struct State {
        var changedAt: Int64 = 0
        var budget = KeyLookupBudget()
    }

    let keys: FleetAccessKeys
    let state = Mutex(State())

    init(keys: FleetAccessKeys) { self.keys = keys }
}

extension AccessKeyStore {
    /// A fleet's store: the keys in etcd, sealed with `clusterKey`, kept in step with every view
    /// `member` reads.
    package static func fleet(_ member: FleetMember, clusterKey: [UInt8]) throws -> AccessKeyStore {
        let store = try AccessKeyStore(
            backend: FleetAccessKeyBackend(keys: member.accessKeys), sealingKey: clusterKey, loading: try member.accessKeys.all().map(\.info),
            fleet: FleetKeySync(keys: member.accessKeys))
        member.observeViews { [weak store] view, readAt in store?.adopt(view.accessKeys, readAt: readAt) }
        return store
    }

    /// Whether a key id not in memory may be looked up (`lookUp`).
    package var looksUp: Bool { fleet != nil }

    /// The keys of a view read at `readAt`, unless a change made here since would be undone.
    func adopt(_ entries: [String: AccessKeyEntry], readAt: Int64) {
        guard let fleet else { return }
        let (loaded, _) = Self.unsealAll(entries.values.map(\.info), key: sealingKey)
        fleet.state.withLock { state in
            guard readAt > state.changedAt else { return }
            keys.withLock { $0 = loaded }
        }
    }

    /// In a fleet, the keys read from etcd again now (the admin API's reads: what another node
    /// changed a moment ago shows at once); standalone, nothing to do.
    package func refresh() throws {
        guard let fleet else { return }
        let readAt = WriteFence.now()
        var entries: [String: AccessKeyEntry] = [:]
        for entry in try fleet.keys.all() { entries[entry.id] = entry }
        adopt(entries, readAt: readAt)
    }

    /// In a fleet, a key not in memory read from etcd (made through another node since the last
    /// view); nil when there is none, etcd cannot say now, or lookups are over their rate (the
    /// next view brings a real key within a quarter lease).
    package func lookUp(id: String) -> AccessKey? {
        if let key = key(id: id) { return key }
        guard let fleet else { return nil }
        let now = WriteFence.now()
        guard fleet.state.withLock({ $0.budget.admit(id, now: now) }) else { return nil }
        guard let entry = try? fleet.keys.get(id), let key = Self.unsealAll([entry.info], key: sealingKey).0[id] else {
            fleet.state.withLock { $0.budget.missed(id, now: now) }
            return nil
        }
        keys.withLock { $0[id] = $0[id] ?? key }
        return key
    }

    /// Copies `local`'s keys (a node's own, from before it joined) into the fleet, sealed with the
    /// cluster key; a key the fleet has (by id) stays as the fleet has it. Permissions are kept on
    /// `poolVolumes` (this pool's volumes in the fleet's directory) only; into a fleet that has keys
    /// already, one on every volume (`*`) becomes one on each of them: a key gains nothing it did
    /// not have. Returns the ids copied.
    package func copyIn(_ local: AccessKeyStore, poolVolumes: Set<String>) throws -> [String] {
        guard let fleet else { return [] }
        let fleetHadKeys = !keys.withLock { $0.isEmpty }
        var copied: [String] = []
        for var key in local.all {
            var permissions: [String: AccessKey.Permission] = [:]
            for (volume, permission) in key.permissions {
                if volume == Self.wildcard, fleetHadKeys {
                    for name in poolVolumes { permissions[name] = max(permissions[name] ?? permission, permission) }
                } else if volume == Self.wildcard || poolVolumes.contains(volume) {
                    permissions[volume] = max(permissions[volume] ?? permission, permission)
                }
            }
            key.permissions = permissions
            if try fleet.keys.insertIfAbsent(AccessKeyEntry(info(key, sealedSecret: try seal(key)))) {
                changed { $0[key.id] = key }
                copied.append(key.id)
            }
        }
        return copied
    }

    /// The cluster key at `path`, checked against the fleet's. When neither the file nor the fleet
    /// has one (the fleet's first node), one is made (mode 0600) and claimed.
    package static func clusterKey(at path: String, fleet: FleetAccessKeys) throws -> [UInt8] {
        let copyIt = "copy the cluster key file from a node of the fleet to \(path) (mode 0600): every node of a fleet is given the same one"
        if let key = try readKeyFile(path) {
            guard try fleet.claim(clusterKey: key) == .same else { throw StoreError.keyFile("\(path) is not this fleet's cluster key; \(copyIt)") }
            return key
        }
        guard try !fleet.clusterKeyClaimed() else { throw StoreError.keyFile("no cluster key at \(path); \(copyIt)") }
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        try writePrivate(path, Data(key))
        guard try fleet.claim(clusterKey: key) == .same else {
            unlink(path)
            throw StoreError.keyFile("another node made the fleet's cluster key a moment ago; \(copyIt)")
        }
        return key
    }
}
