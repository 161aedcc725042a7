import Crypto
// This node's membership of the fleet, and the one owner of what it knows of it: its node lease
// and record, its pool's lease and epoch, the pool's write fence, and the latest view of the
// fleet (nodes, owners, the volume directory). At start: `connect` (the token, the node's name),
// `take` the pool's lease before the engine opens (opening writes), `attach` the engine (the epoch
// written into the devices, the volumes entered); then the keeper (a PeriodicTask) renews the
// leases, republishes the node's figures and refreshes the view; `leave` gives the leases back.
//
// The pool's lease is what lets the node write to the pool's devices: the fence is held open
// until renewedAt + ttl − margin on the local monotonic clock (the renewal's send time counts,
// not its answer's, so a slow answer never stretches it), and closed when the lease is lost or
// the devices carry a newer epoch than the node's (another node took the pool over).
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
    /// The pool could not be served (its devices could not be written).
    case pool(String)

    package var description: String {
        switch self {
        case .tokenMismatch:
            "the fleet's admin token is another one: every node of a fleet takes the same token (--token or <data-dir>/token)"
        case .nameInUse(let name): "node name \(name) is in use by a live node; give another --node-name"
        case .poolHeld(let pool, let node, let epoch):
            "pool \(pool) is held by node \(node) (epoch \(epoch)), whose lease is alive: another node took this node's pool over; start this node on new devices (an empty data directory) to join with a new pool"
        case .etcd(let error): "\(error)"
        case .pool(let why): "the pool: \(why)"
        }
    }
}

package final class FleetMember: Sendable {
    /// The pool's lease as this node holds it (or lost it).
    package enum PoolHold: Sendable, Equatable {
        case none
        /// `renewedAt`: `WriteFence.now()` when the last renewal that succeeded was sent.
        case held(lease: Int64, epoch: Int64, renewedAt: Int64, ttl: Int)
        /// Its lease expired or another node took the pool: nothing may be written to it.
        case lost(epoch: Int64, reason: String, forGood: Bool)

        package var epoch: Int64 {
            switch self {
            case .none: 0
            case .held(_, let epoch, _, _), .lost(let epoch, _, _): epoch
            }
        }
    }

    struct State {
        var nodeLease: Int64
        var poolID: String?
        var pool = PoolHold.none
        var engine: Engine?
        var view = FleetView()
        var etcdReachable = true
        var lastError: String?
    }

    package let settings: FleetSettings
    package let keys: FleetKeys
    package let etcd: EtcdClient
    package let http: CurlClient
    /// The pool's write fence: closed until the lease is taken.
    package let fence = WriteFence(open: false)
    private let logger: Logger
    private let state: Lock<State>
    private let keeper = Mutex<PeriodicTask?>(nil)
    private let startedAt = ISO8601DateFormatter().string(from: Date())

    private init(settings: FleetSettings, etcd: EtcdClient, http: CurlClient, logger: Logger, nodeLease: Int64) {
        self.settings = settings
        keys = FleetKeys(prefix: settings.prefix)
        self.etcd = etcd
        self.http = http
        self.logger = logger
        state = Lock(State(nodeLease: nodeLease))
    }

    /// The pool this node holds (or held); nil before `take`.
    package var poolID: String? { state.withLock { $0.poolID } }

    /// Joins the fleet as a node: checks the token is the fleet's and publishes the node's record
    /// (its name must be free: a live record of that name is waited out for up to a lease's life).
    package static func connect(settings: FleetSettings, token: String, logger: Logger) throws(FleetError) -> FleetMember {
        let http = CurlClient()
        let etcd = EtcdClient(endpoints: settings.endpoints, http: http)
        return try fleetCall {
            try checkToken(token, etcd: etcd, keys: FleetKeys(prefix: settings.prefix))
            let nodeLease = try etcd.grantLease(ttl: settings.leaseSeconds).id
            let member = FleetMember(settings: settings, etcd: etcd, http: http, logger: logger, nodeLease: nodeLease)
            try member.claimNodeName()
            return member
        }
    }

    /// Takes the pool's lease under the next epoch (a live owner is waited out for up to a lease's
    /// life, then refused): the fence opens.
    package func take(pool: String) throws(FleetError) {
        state.withLock { $0.poolID = pool }
        try Self.fleetCall { try takePool(pool) }
    }

    /// Serves `engine`'s pool (taken first if `take` was not called: a pool made just now): its
    /// epoch into the devices, its devices published, its volumes entered; the keeper starts.
    package func attach(_ engine: Engine) throws(FleetError) {
        let pool = engine.poolUUID.uuidString.lowercased()
        if poolID == nil { try take(pool: pool) }
        state.withLock { $0.engine = engine }
        try Self.fleetCall {
            try engine.writeFleetEpoch(poolHold.epoch)
            try publishDevices(engine, pool: pool)
            try reconcileVolumes(engine, pool: pool)
            try publishNode()
            try refreshView()
        }
        startKeeper()
    }

    private static func fleetCall<T>(_ body: () throws -> T) throws(FleetError) -> T {
        do {
            return try body()
        } catch let error as FleetError {
            throw error
        } catch let error as EtcdError {
            throw .etcd(error)
        } catch {
            throw .pool("\(error)")
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
        let deadline = WriteFence.now() + Int64(settings.leaseSeconds + 2) * 1_000_000_000
        while true {
            let lease = state.withLock { $0.nodeLease }
            let result = try etcd.transaction(
                [.absent(keys.node(settings.nodeName))], success: [.put(keys.node(settings.nodeName), FleetJSON.encode(nodeRecord()), lease: lease)])
            if result.succeeded { return }
            guard WriteFence.now() < deadline else { throw FleetError.nameInUse(settings.nodeName) }
            logger.notice("node name \(settings.nodeName) is still held (a previous run of this node?): waiting for its lease to expire")
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// Takes the pool's lease: when it has no owner, the owner record (on a fresh lease) and the
    /// next epoch are written in one transaction that holds only if the epoch is still the one
    /// read. A live owner is waited out for up to a lease's life.
    private func takePool(_ pool: String) throws {
        let deadline = WriteFence.now() + Int64(settings.leaseSeconds + 2) * 1_000_000_000
        let lease = try etcd.grantLease(ttl: settings.leaseSeconds)
        while true {
            let renewedAt = WriteFence.now()
            let epochRead = try etcd.get(keys.poolEpoch(pool))
            let epoch = (epochRead.flatMap { Int64($0.text) } ?? 0) + 1
            let owner = PoolOwnerRecord(node: settings.nodeName, epoch: epoch, lease: lease.id)
            let result = try etcd.transaction(
                [.absent(keys.poolOwner(pool)), .modRevision(keys.poolEpoch(pool), equals: epochRead?.modRevision ?? 0)],
                success: [
                    .put(keys.poolOwner(pool), FleetJSON.encode(owner), lease: lease.id), .put(keys.poolEpoch(pool), Array(String(epoch).utf8)),
                ],
                failure: [.get(keys.poolOwner(pool))])
            if result.succeeded {
                state.withLock { $0.pool = .held(lease: lease.id, epoch: epoch, renewedAt: renewedAt, ttl: lease.ttl) }
                holdFence(renewedAt: renewedAt, ttl: lease.ttl)
                logger.info("holding pool \(pool) under epoch \(epoch)", metadata: ["node": "\(settings.nodeName)"])
                return
            }
            let holder = result.found.first?.first.flatMap { FleetJSON.decode(PoolOwnerRecord.self, $0.value) }
            guard WriteFence.now() < deadline else {
                try? etcd.revoke(lease.id)
                throw FleetError.poolHeld(pool: pool, node: holder?.node ?? "?", epoch: holder?.epoch ?? 0)
            }
            if let holder {
                logger.notice("pool \(pool) is still held by node \(holder.node) (epoch \(holder.epoch)): waiting for its lease to expire")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    private func holdFence(renewedAt: Int64, ttl: Int) {
        fence.hold(until: renewedAt + Int64((Double(ttl) - settings.marginSeconds) * 1e9))
    }

    private func publishDevices(_ engine: Engine, pool: String) throws {
        let devices = try engine.listDevices().map { PoolDevicesRecord.Device(path: $0.path, id: $0.id) }
        try etcd.put(keys.poolDevices(pool), FleetJSON.encode(PoolDevicesRecord(devices: devices)))
    }

    /// The directory agrees with the pool: each of its volumes is entered (unless the name is
    /// another pool's: a conflict, logged), and an entry of this pool naming no volume goes.
    private func reconcileVolumes(_ engine: Engine, pool: String) throws {
        let local = Set(try engine.listVolumes().map(\.name))
        let entries = try etcd.list(prefix: keys.volumes)
        var entered = Set<String>()
        for kv in entries {
            let name = String(kv.key.dropFirst(keys.volumes.count))
            guard let entry = FleetJSON.decode(VolumeEntry.self, kv.value), entry.pool == pool else { continue }
            if local.contains(name) {
                entered.insert(name)
            } else {
                _ = try etcd.transaction([.modRevision(kv.key, equals: kv.modRevision)], success: [.delete(kv.key)])
            }
        }
        for name in local.subtracting(entered).sorted() {
            let result = try etcd.transaction(
                [.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: pool)))],
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

    /// Enters a new volume of this node's pool; false when the name is taken in the fleet.
    package func enterVolume(_ name: String) throws(EtcdError) -> Bool {
        guard let pool = poolID else { return false }
        return try etcd.transaction([.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: pool)))])
            .succeeded
    }

    /// Removes a volume of this node's pool from the directory.
    package func removeVolume(_ name: String) throws(EtcdError) {
        guard let pool = poolID else { return }
        _ = try etcd.transaction(
            [.value(keys.volume(name), equals: FleetJSON.encode(VolumeEntry(pool: pool)))], success: [.delete(keys.volume(name))])
    }

    /// The latest view; with `refresh`, read again first (a name the view does not know).
    package func view(refresh: Bool = false) -> FleetView {
        if refresh { try? refreshView() }
        return state.withLock { $0.view }
    }

    // MARK: the pool's lease

    /// Whether this node may write to its pool now (see the file's header).
    package var writable: Bool { fence.mayWrite }

    package var poolHold: PoolHold { state.withLock { $0.pool } }

    /// Whether this node serves its pool's volumes (it holds the lease, or lost it only for now).
    package var servesPool: Bool {
        switch poolHold {
        case .held: true
        case .none: false
        case .lost(_, _, let forGood): !forGood
        }
    }

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

    /// One tick: renew both leases, check the devices' epoch, republish the node, refresh the view.
    private func keep() {
        do {
            try renewNode()
            try renewPool()
            checkDevicesEpoch()
            try publishNode()
            try refreshView()
            state.withLock {
                $0.etcdReachable = true
                $0.lastError = nil
            }
        } catch {
            checkDevicesEpoch()
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
        guard let pool = poolID else { return }
        switch poolHold {
        case .none:
            return
        case .held(let lease, let epoch, _, _):
            let sent = WriteFence.now()
            let ttl = try etcd.keepAlive(lease)
            if ttl > 0 {
                let renewed = state.withLock { state -> Bool in
                    // Only if still held under this lease (the keeper is the only renewer).
                    guard case .held(lease, epoch, _, _) = state.pool else { return false }
                    state.pool = .held(lease: lease, epoch: epoch, renewedAt: sent, ttl: ttl)
                    return true
                }
                if renewed { holdFence(renewedAt: sent, ttl: ttl) }
                return
            }
            lose(epoch: epoch, reason: "its lease expired", forGood: false)
            try retake(pool, after: epoch)
        case .lost(let epoch, _, let forGood):
            if !forGood { try retake(pool, after: epoch) }
        }
    }

    private func lose(epoch: Int64, reason: String, forGood: Bool) {
        fence.close("the pool's lease was lost: \(reason)")
        let changed = state.withLock { state -> Bool in
            if case .lost(_, _, true) = state.pool { return false }
            state.pool = .lost(epoch: epoch, reason: reason, forGood: forGood)
            return true
        }
        if changed {
            logger.critical("fleet: lost pool \(poolID ?? "?") (epoch \(epoch)): \(reason); nothing is written to it")
        }
    }

    /// After a lost lease: takes the pool again only if no other node took it meanwhile (its
    /// epoch is still this node's); otherwise it is lost for good.
    private func retake(_ pool: String, after epoch: Int64) throws {
        guard let current = try etcd.get(keys.poolEpoch(pool)), Int64(current.text) == epoch else {
            lose(epoch: epoch, reason: "another node took the pool over", forGood: true)
            return
        }
        if try etcd.get(keys.poolOwner(pool)) != nil { return }
        try takePool(pool)
        if let engine = state.withLock({ $0.engine }) { try engine.writeFleetEpoch(poolHold.epoch) }
    }

    /// A newer epoch in the devices' superblocks than this node's: another node took the pool
    /// over (the node may not even have heard from etcd since: it was stopped, or cut off).
    private func checkDevicesEpoch() {
        guard let engine = state.withLock({ $0.engine }) else { return }
        let epoch = poolHold.epoch
        let onDevices = engine.fleetEpochOnDevices()
        if onDevices > epoch { lose(epoch: epoch, reason: "another node took the pool over (epoch \(onDevices) on its devices)", forGood: true) }
    }

    private func nodeRecord() -> NodeRecord {
        let (engine, pool, hold) = state.withLock { ($0.engine, $0.poolID, $0.pool) }
        let figures = try? engine?.pool()
        let held: [String] = if case .held = hold, let pool { [pool] } else { [] }
        return NodeRecord(
            name: settings.nodeName, api: settings.api, s3: settings.s3, pools: held, freeBytes: figures?.freeBytes ?? 0,
            capacityBytes: figures?.capacityBytes ?? 0, takeover: settings.takeover, startedAt: startedAt)
    }

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
            lose(epoch: epoch, reason: "the node left the fleet", forGood: true)
            try? etcd.revoke(lease)
        }
        try? etcd.revoke(nodeLease)
    }

    /// What `GET /v1/cluster` shows of this node's own standing.
    package struct Standing: Sendable {
        package var node: String
        package var pool: String?
        package var hold: PoolHold
        package var writable: Bool
        package var etcdReachable: Bool
        package var lastError: String?
        package var view: FleetView
    }

    package func standing() -> Standing {
        let snapshot = state.withLock { $0 }
        return Standing(
            node: settings.nodeName, pool: snapshot.poolID, hold: snapshot.pool, writable: writable, etcdReachable: snapshot.etcdReachable,
            lastError: snapshot.lastError, view: snapshot.view)
    }
}
