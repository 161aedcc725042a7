import Crypto
// This node's membership of the fleet, and the one owner of what it knows of it: its node lease
// and record, its pool's lease and epoch, and the latest view of the fleet (nodes, owners, the
// volume directory). `join` runs once at start; the keeper (a PeriodicTask) renews the leases,
// republishes the node's figures and refreshes the view; `leave` gives the leases back.
//
// The pool's lease is what lets the node write to the pool's devices: `writable` is true while
// the lease, renewed at `renewedAt` with `ttl` seconds, cannot have expired in etcd yet with a
// margin: renewedAt + ttl − margin is still ahead on the local monotonic clock (the renewal's
// send time counts, not its answer's, so a slow answer never stretches it).
package import Engine
import Foundation
package import Logging
import Synchronization

package struct FleetSettings: Sendable {
    package var endpoints: [String]
    package var nodeName: String
    /// The URL other nodes and clients reach this node's admin API at.
    package var api: String
    /// The URL of its S3 endpoint (nil: none).
    package var s3: String?
    /// Seconds a lease lives without renewal.
    package var leaseSeconds = 10
    /// Seconds before a lease may expire at which the node stops writing.
    package var marginSeconds = 3.0
    package var takeover = true
    package var prefix = "/appliance/"

    package init(endpoints: [String], nodeName: String, api: String, s3: String?) {
        self.endpoints = endpoints
        self.nodeName = nodeName
        self.api = api
        self.s3 = s3
    }
}

package enum FleetError: Error, CustomStringConvertible {
    case tokenMismatch
    case nameInUse(String)
    case poolHeld(pool: String, node: String, epoch: Int64)
    case etcd(EtcdError)

    package var description: String {
        switch self {
        case .tokenMismatch:
            "the fleet's admin token is another one: every node of a fleet takes the same token (--token or <data-dir>/token)"
        case .nameInUse(let name): "node name \(name) is in use by a live node; give another --node-name"
        case .poolHeld(let pool, let node, let epoch): "pool \(pool) is held by node \(node) (epoch \(epoch)), whose lease is alive"
        case .etcd(let error): "\(error)"
        }
    }
}

package final class FleetMember: Sendable {
    /// The pool's lease as this node holds it (or lost it).
    package enum PoolHold: Sendable, Equatable {
        case held(lease: Int64, epoch: Int64, renewedAt: ContinuousClock.Instant, ttl: Int)
        /// Its lease expired or another node took the pool: nothing may be written to it.
        case lost(epoch: Int64, reason: String)
    }

    struct State {
        var nodeLease: Int64
        var pool: PoolHold
        var view = FleetView()
        var etcdReachable = true
        var lastError: String?
    }

    package let settings: FleetSettings
    package let keys: FleetKeys
    package let etcd: EtcdClient
    package let http: CurlClient
    package let poolID: String
    private let engine: Engine
    private let logger: Logger
    private let state: Lock<State>
    private let keeper = Mutex<PeriodicTask?>(nil)

    private init(settings: FleetSettings, etcd: EtcdClient, http: CurlClient, engine: Engine, logger: Logger, state: State) {
        self.settings = settings
        keys = FleetKeys(prefix: settings.prefix)
        self.etcd = etcd
        self.http = http
        self.engine = engine
        self.logger = logger
        poolID = engine.poolUUID.uuidString.lowercased()
        self.state = Lock(state)
    }

    /// Joins the fleet: checks the token is the fleet's, publishes the node, takes its pool's
    /// lease under the next epoch, publishes the pool's devices, puts its volumes in the
    /// directory, then starts the keeper.
    package static func join(settings: FleetSettings, engine: Engine, token: String, logger: Logger) throws(FleetError) -> FleetMember {
        let http = CurlClient()
        let etcd = EtcdClient(endpoints: settings.endpoints, http: http)
        let keys = FleetKeys(prefix: settings.prefix)
        do {
            try checkToken(token, etcd: etcd, keys: keys)
            let nodeLease = try etcd.grantLease(ttl: settings.leaseSeconds).id
            let member = FleetMember(
                settings: settings, etcd: etcd, http: http, engine: engine, logger: logger,
                state: State(nodeLease: nodeLease, pool: .lost(epoch: 0, reason: "not taken yet")))
            try member.claimNodeName()
            try member.takePool()
            try member.publishDevices()
            try member.reconcileVolumes()
            try member.publishNode()
            try member.refreshView()
            member.startKeeper()
            return member
        } catch let error as FleetError {
            throw error
        } catch let error as EtcdError {
            throw .etcd(error)
        } catch {
            throw .etcd(.malformed("\(error)"))
        }
    }

    /// The fleet's token hash is the first node's; every other node must present the same token.
    private static func checkToken(_ token: String, etcd: EtcdClient, keys: FleetKeys) throws {
        let hash = Array(SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined().utf8)
        let result = try etcd.transaction([.absent(keys.tokenHash)], success: [.put(keys.tokenHash, hash)], failure: [.get(keys.tokenHash)])
        if !result.succeeded, result.found.first?.first?.value != hash { throw FleetError.tokenMismatch }
    }

    /// Puts this node's record, attached to its lease; a record of the same name still alive
    /// (this node's previous run, killed, or another node) is waited out for up to a lease's life.
    private func claimNodeName() throws {
        let deadline = ContinuousClock.now + .seconds(settings.leaseSeconds + 2)
        while true {
            let lease = state.withLock { $0.nodeLease }
            let result = try etcd.transaction(
                [.absent(keys.node(settings.nodeName))], success: [.put(keys.node(settings.nodeName), FleetJSON.encode(nodeRecord()), lease: lease)])
            if result.succeeded { return }
            guard ContinuousClock.now < deadline else { throw FleetError.nameInUse(settings.nodeName) }
            logger.notice("node name \(settings.nodeName) is still held (a previous run of this node?): waiting for its lease to expire")
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Takes the pool's lease: when it has no owner, the owner record (on a fresh lease) and the
    /// next epoch are written in one transaction that holds only if the epoch is still the one
    /// read. A live owner is waited out for up to a lease's life.
    private func takePool() throws {
        let deadline = ContinuousClock.now + .seconds(settings.leaseSeconds + 2)
        let lease = try etcd.grantLease(ttl: settings.leaseSeconds)
        while true {
            let renewedAt = ContinuousClock.now
            let epochRead = try etcd.get(keys.poolEpoch(poolID))
            let epoch = (epochRead.flatMap { Int64($0.text) } ?? 0) + 1
            let owner = PoolOwnerRecord(node: settings.nodeName, epoch: epoch, lease: lease.id)
            let result = try etcd.transaction(
                [.absent(keys.poolOwner(poolID)), .modRevision(keys.poolEpoch(poolID), equals: epochRead?.modRevision ?? 0)],
                success: [
                    .put(keys.poolOwner(poolID), FleetJSON.encode(owner), lease: lease.id), .put(keys.poolEpoch(poolID), Array(String(epoch).utf8)),
                ],
                failure: [.get(keys.poolOwner(poolID))])
            if result.succeeded {
                state.withLock { $0.pool = .held(lease: lease.id, epoch: epoch, renewedAt: renewedAt, ttl: lease.ttl) }
                logger.info("holding pool \(poolID) under epoch \(epoch)", metadata: ["node": "\(settings.nodeName)"])
                return
            }
            let holder = result.found.first?.first.flatMap { FleetJSON.decode(PoolOwnerRecord.self, $0.value) }
            guard ContinuousClock.now < deadline else {
                try? etcd.revoke(lease.id)
                throw FleetError.poolHeld(pool: poolID, node: holder?.node ?? "?", epoch: holder?.epoch ?? 0)
            }
            if let holder {
                logger.notice("pool \(poolID) is still held by node \(holder.node) (epoch \(holder.epoch)): waiting for its lease to expire")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    private func publishDevices() throws {
        let devices = try engine.listDevices().map { PoolDevicesRecord.Device(path: $0.path, id: $0.id) }
        try etcd.put(keys.poolDevices(poolID), FleetJSON.encode(PoolDevicesRecord(devices: devices)))
    }

    /// The directory agrees with the pool: each of its volumes is entered (unless the name is
    /// another pool's: a conflict, logged), and an entry of this pool naming no volume goes.
    private func reconcileVolumes() throws {
        let local = Set(try engine.listVolumes().map(\.name))
        let entries = try etcd.list(prefix: keys.volumes)
        var entered = Set<String>()
        for kv in entries {
            let name = String(kv.key.dropFirst(keys.volumes.count))
            guard let entry = FleetJSON.decode(VolumeEntry.self, kv.value), entry.pool == poolID else { continue }
            if local.contains(name) {
                entered.insert(name)
            } else {
                _ = try etcd.transaction([.modRevision(kv.key, equals: kv.modRevision)], success: [.delete(kv.key)])
            }
        }
        for name in local.subtracting(entered).sorted() {
            let result = try etcd.transaction(
                [.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: poolID)))],
                failure: [.get(keys.volume(name))])
            if !result.succeeded {
                let other = result.found.first?.first.flatMap { FleetJSON.decode(VolumeEntry.self, $0.value) }?.pool ?? "?"
                logger.error(
                    "volume \(name) of this pool has a name another pool's volume has in the fleet (pool \(other)): it is not reachable through other nodes; rename one"
                )
            }
        }
    }

    // MARK: the volume directory

    /// Enters a new volume of this pool; false when the name is taken in the fleet.
    package func enterVolume(_ name: String) throws(EtcdError) -> Bool {
        try etcd.transaction([.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: poolID)))])
            .succeeded
    }

    /// Removes a volume of this pool from the directory.
    package func removeVolume(_ name: String) throws(EtcdError) {
        _ = try etcd.transaction(
            [.value(keys.volume(name), equals: FleetJSON.encode(VolumeEntry(pool: poolID)))], success: [.delete(keys.volume(name))])
    }

    /// The latest view; with `refresh`, read again first (a name the view does not know).
    package func view(refresh: Bool = false) -> FleetView {
        if refresh { try? refreshView() }
        return state.withLock { $0.view }
    }

    // MARK: the pool's lease

    /// Whether this node may write to its pool now (see the file's header).
    package var writable: Bool {
        guard case .held(_, _, let renewedAt, let ttl) = state.withLock({ $0.pool }) else { return false }
        return ContinuousClock.now < renewedAt + .seconds(Double(ttl) - settings.marginSeconds)
    }

    package var poolHold: PoolHold { state.withLock { $0.pool } }

    // MARK: the keeper

    private func startKeeper() {
        let period = max(0.5, Double(settings.leaseSeconds) / 4)
        let task = PeriodicTask(name: "fleet-keeper", period: { period }) { [weak self] in
            guard let self else { return false }
            self.keep()
            return true
        }
        keeper.withLock { $0 = task }
    }

    /// One tick: renew both leases, republish the node, refresh the view.
    private func keep() {
        do {
            try renewNode()
            try renewPool()
            try publishNode()
            try refreshView()
            state.withLock {
                $0.etcdReachable = true
                $0.lastError = nil
            }
        } catch {
            var unreachable = false
            if let failure = error as? EtcdError, case .unreachable = failure { unreachable = true }
            state.withLock {
                $0.etcdReachable = !unreachable
                $0.lastError = "\(error)"
            }
            logger.warning("fleet: \(error)")
        }
    }

    private func renewNode() throws {
        let lease = state.withLock { $0.nodeLease }
        if try etcd.keepAlive(lease) > 0 { return }
        // Expired (etcd was out of reach longer than its life): the record is only information.
        let fresh = try etcd.grantLease(ttl: settings.leaseSeconds).id
        state.withLock { $0.nodeLease = fresh }
        logger.notice("fleet: the node's lease had expired; a new one is taken")
    }

    private func renewPool() throws {
        switch state.withLock({ $0.pool }) {
        case .held(let lease, let epoch, _, _):
            let sent = ContinuousClock.now
            let ttl = try etcd.keepAlive(lease)
            if ttl > 0 {
                state.withLock { state in
                    // Only if still held under this lease (the keeper is the only renewer).
                    if case .held(lease, epoch, _, _) = state.pool { state.pool = .held(lease: lease, epoch: epoch, renewedAt: sent, ttl: ttl) }
                }
                return
            }
            state.withLock { $0.pool = .lost(epoch: epoch, reason: "its lease expired") }
            logger.critical("fleet: the lease of pool \(poolID) expired (epoch \(epoch)): nothing is written to it until it is held again")
            try retake(after: epoch)
        case .lost(let epoch, _):
            try retake(after: epoch)
        }
    }

    /// After a lost lease: takes the pool again only if no other node took it meanwhile (its
    /// epoch is still this node's); otherwise it stays lost for good.
    private func retake(after epoch: Int64) throws {
        guard let current = try etcd.get(keys.poolEpoch(poolID)), Int64(current.text) == epoch else {
            state.withLock { $0.pool = .lost(epoch: epoch, reason: "another node took the pool over") }
            return
        }
        if try etcd.get(keys.poolOwner(poolID)) != nil { return }
        try takePool()
    }

    private func nodeRecord() -> NodeRecord {
        let pool = try? engine.pool()
        let held: [String] = if case .held = state.withLock({ $0.pool }) { [poolID] } else { [] }
        return NodeRecord(
            name: settings.nodeName, api: settings.api, s3: settings.s3, pools: held, freeBytes: pool?.freeBytes ?? 0,
            capacityBytes: pool?.capacityBytes ?? 0, takeover: settings.takeover, startedAt: startedAt)
    }

    private let startedAt = ISO8601DateFormatter().string(from: Date())

    private func publishNode() throws {
        let lease = state.withLock { $0.nodeLease }
        try etcd.put(keys.node(settings.nodeName), FleetJSON.encode(nodeRecord()), lease: lease)
    }

    private func refreshView() throws {
        let view = FleetView(try etcd.list(prefix: keys.prefix), keys: keys)
        state.withLock { $0.view = view }
    }

    /// Stops the keeper and gives the leases back, so other nodes see at once that this node and
    /// its pool's ownership are gone.
    package func leave() {
        keeper.withLock { $0 }?.stop()
        let (nodeLease, pool) = state.withLock { ($0.nodeLease, $0.pool) }
        if case .held(let lease, let epoch, _, _) = pool {
            state.withLock { $0.pool = .lost(epoch: epoch, reason: "the node left the fleet") }
            try? etcd.revoke(lease)
        }
        try? etcd.revoke(nodeLease)
    }

    /// What `GET /v1/cluster` shows of this node's own standing.
    package struct Standing: Sendable {
        package var node: String
        package var pool: String
        package var hold: PoolHold
        package var writable: Bool
        package var etcdReachable: Bool
        package var lastError: String?
        package var view: FleetView
    }

    package func standing() -> Standing {
        let snapshot = state.withLock { $0 }
        return Standing(
            node: settings.nodeName, pool: poolID, hold: snapshot.pool, writable: writable, etcdReachable: snapshot.etcdReachable,
            lastError: snapshot.lastError, view: snapshot.view)
    }
}
