import Crypto
// This node's membership of the fleet, and the one owner of what it knows of it: its node lease
// and record, its own pool's lease (PoolLease), the pools it took over, and the latest view of the
// fleet (nodes, owners, the volume directory). At start: `connect` (the token, the node's name),
// `take` the pool's lease before the engine opens (opening writes), `attach` the engine (the epoch
// written into the devices, the volumes entered); then the keeper (a PeriodicTask) renews the
// leases, checks the devices' epochs, republishes the node's figures, refreshes the view, and
// (with `--takeover on`) takes over a pool that has no owner and whose devices this node reaches;
// `leave` gives everything back.
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

/// A pool this node took over, served by an engine and listeners of its own.
package struct ServedPool: Sendable {
    package var engine: Engine
    /// Where its API and S3 endpoint answer (its record in the fleet names them).
    package var api: String
    package var s3: String?
    /// Stops its listeners and closes its engine (written back while the lease is still held).
    package var stop: @Sendable () -> Void

    package init(engine: Engine, api: String, s3: String?, stop: @escaping @Sendable () -> Void) {
        self.engine = engine
        self.api = api
        self.s3 = s3
        self.stop = stop
    }
}

/// Opens and serves a pool taken over: its id, its devices' paths, and the fence its lease holds.
package typealias PoolServing = @Sendable (_ pool: String, _ devicePaths: [String], _ fence: WriteFence) throws -> ServedPool

package final class FleetMember: Sendable {
    private struct Adopted: Sendable {
        var lease: PoolLease
        var served: ServedPool
    }

    private struct State {
        var nodeLease: Int64
        var own: PoolLease?
        var adopted: [String: Adopted] = [:]
        /// Pools being taken over now (one at a time).
        var adopting: String?
        var view = FleetView()
        /// `WriteFence.now()` when the view was read.
        var viewReadAt: Int64 = 0
        var etcdReachable = true
        var lastError: String?
    }

    package let settings: FleetSettings
    package let keys: FleetKeys
    package let etcd: EtcdClient
    package let http: CurlClient
    /// The fleet's S3 access keys in etcd.
    package let accessKeys: FleetAccessKeys
    /// The own pool's write fence (the engine opens with it, before the lease is taken).
    package let fence = WriteFence(open: false)
    private let logger: Logger
    private let state: Lock<State>
    private let keeper = Mutex<PeriodicTask?>(nil)
    private let serving = Mutex<PoolServing?>(nil)
    /// Told of every view read (with `WriteFence.now()` at the read), outside the member's lock.
    private let viewObservers = Mutex<[@Sendable (FleetView, Int64) -> Void]>([])
    private let takeovers = WorkerPool(name: "takeover", keepIdle: 0, maxThreads: 1)
    private let startedAt = ISO8601DateFormatter().string(from: Date())

    private init(settings: FleetSettings, etcd: EtcdClient, http: CurlClient, logger: Logger, nodeLease: Int64) {
        self.settings = settings
        keys = FleetKeys(prefix: settings.prefix)
        self.etcd = etcd
        self.http = http
        self.logger = logger
        accessKeys = FleetAccessKeys(etcd: etcd, keys: keys)
        state = Lock(State(nodeLease: nodeLease))
    }

    /// The pool this node holds (or held); nil before `take`.
    package var poolID: String? { state.withLock { $0.own?.pool } }

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

    /// Takes the own pool's lease under the next epoch (a live owner is waited out for up to a
    /// lease's life, then refused): its fence opens.
    package func take(pool: String) throws(FleetError) {
        let lease = PoolLease(
            pool: pool, holder: settings.nodeName, etcd: etcd, keys: keys, ttl: settings.leaseSeconds, margin: settings.marginSeconds,
            logger: logger, fence: fence)
        state.withLock { $0.own = lease }
        do {
            try Self.fleetCall { try lease.take(waitSeconds: Double(settings.leaseSeconds + 2)) }
        } catch {
            state.withLock { $0.own = nil }
            throw error
        }
    }

    /// Serves `engine`'s pool (taken first if `take` was not called: a pool made just now): its
    /// epoch into the devices, its devices published, its volumes entered; the keeper starts.
    /// With `serving`, pools whose owner died are taken over (`--takeover on`).
    package func attach(_ engine: Engine, serving: PoolServing? = nil) throws(FleetError) {
        let pool = engine.poolUUID.uuidString.lowercased()
        if poolID == nil { try take(pool: pool) }
        guard let own = state.withLock({ $0.own }) else { return }
        try Self.fleetCall {
            try own.attach(engine)
            try publishDevices(engine, pool: pool)
            try reconcileVolumes(engine, pool: pool)
            try publishNode()
            try refreshView()
        }
        if settings.takeover { self.serving.withLock { $0 = serving } }
        startKeeper()
    }

    /// Serves no pool of its own (another node holds the one its devices carry): the node forwards
    /// every request to the volumes' nodes, is never a new volume's place, and with `serving` takes
    /// pools over (its own too, should their holder die).
    package func attachWithoutPool(serving: PoolServing? = nil) throws(FleetError) {
        try Self.fleetCall {
            try publishNode()
            try refreshView()
        }
        if settings.takeover { self.serving.withLock { $0 = serving } }
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
        let hash = fleetHex(SHA256.hash(data: Array(token.utf8)))
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

    private func publishDevices(_ engine: Engine, pool: String) throws {
        let devices = try engine.listDevices().map { PoolDevicesRecord.Device(path: $0.path, id: $0.id) }
        try etcd.put(keys.poolDevices(pool), FleetJSON.encode(PoolDevicesRecord(devices: devices)))
    }

    /// The directory agrees with the pool: each of its volumes is entered (unless the name is
    /// another pool's: a conflict, logged unless `quiet`), and an entry of this pool naming no
    /// volume goes, with every access key's permission on it.
    private func reconcileVolumes(_ engine: Engine, pool: String, quiet: Bool = false) throws {
        var local: [String: Int64] = [:]
        for volume in try engine.listVolumes() { local[volume.name] = Int64(volume.createdAt.timeIntervalSince1970) }
        let entries = try etcd.list(prefix: keys.volumes)
        var entered = Set<String>()
        for kv in entries {
            let name = String(kv.key.dropFirst(keys.volumes.count))
            guard let entry = FleetJSON.decode(VolumeEntry.self, kv.value), entry.pool == pool else { continue }
            if let createdAt = local[name] {
                entered.insert(name)
                if entry.createdAt == nil {  // an older build's entry: its date, for ListBuckets
                    _ = try etcd.transaction(
                        [.modRevision(kv.key, equals: kv.modRevision)],
                        success: [.put(kv.key, FleetJSON.encode(VolumeEntry(pool: pool, createdAt: createdAt)))])
                }
            } else if try etcd.transaction([.modRevision(kv.key, equals: kv.modRevision)], success: [.delete(kv.key)]).succeeded {
                try accessKeys.forgetPermissions(on: name)
            }
        }
        for (name, createdAt) in local.sorted(by: { $0.key < $1.key }) where !entered.contains(name) {
            let result = try etcd.transaction(
                [.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: pool, createdAt: createdAt)))],
                failure: [.get(keys.volume(name))])
            if !result.succeeded, !quiet {
                let other = result.found.first?.first.flatMap { FleetJSON.decode(VolumeEntry.self, $0.value) }?.pool ?? "?"
                logger.error(
                    "volume \(name) of this pool has a name another pool's volume has in the fleet (pool \(other)): it is not reachable through other nodes; rename one"
                )
            }
        }
    }

    // MARK: the volume directory

    /// Enters a new volume of this node's pool; false when the name is taken in the fleet. A
    /// permission some access key still has on the name (left by a deletion whose cleanup did
    /// not reach etcd) goes: a new volume starts with none.
    package func enterVolume(_ name: String) throws(EtcdError) -> Bool {
        guard let pool = poolID else { return false }
        guard
            try etcd.transaction([.absent(keys.volume(name))], success: [.put(keys.volume(name), FleetJSON.encode(VolumeEntry(pool: pool)))])
                .succeeded
        else { return false }
        try accessKeys.forgetPermissions(on: name)
        return true
    }

    /// Removes a volume of this node's pool from the directory, and every access key's
    /// permission on it.
    package func removeVolume(_ name: String) throws(EtcdError) {
        guard let pool = poolID else { return }
        if let found = try etcd.get(keys.volume(name)), FleetJSON.decode(VolumeEntry.self, found.value)?.pool == pool {
            _ = try etcd.transaction([.modRevision(found.key, equals: found.modRevision)], success: [.delete(found.key)])
        }
        try accessKeys.forgetPermissions(on: name)
    }

    /// The latest view; with `refresh`, read again first unless it was read in the last quarter
    /// second (a create's placement); with `force`, read again whatever (a node the view lacks).
    package func view(refresh: Bool = false, force: Bool = false) -> FleetView {
        if force || (refresh && WriteFence.now() - state.withLock({ $0.viewReadAt }) > 250_000_000) { try? refreshView() }
        return state.withLock { $0.view }
    }

    /// The latest view, with volume `name`'s entry read from etcd first (one key: a volume made
    /// through another node since the view was read); the whole view is read again when the
    /// entry names a pool the view has no owner for.
    package func view(lookingUp name: String) -> FleetView {
        guard let found = try? etcd.get(keys.volume(name)), let entry = FleetJSON.decode(VolumeEntry.self, found.value) else {
            return state.withLock { $0.view }
        }
        let known = state.withLock { state -> Bool in
            state.view.volumes[name] = entry
            return state.view.owners[entry.pool] != nil
        }
        return known ? state.withLock { $0.view } : view(refresh: true)
    }

    // MARK: the pool's lease

    /// Whether this node may write to its own pool now.
    package var writable: Bool { fence.mayWrite }

    /// Whether this node serves its own pool's volumes (it holds the lease, or lost it only for now).
    package var servesPool: Bool { state.withLock { $0.own }?.serves ?? false }

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

    /// One tick: renew the leases, check the devices' epochs, republish the node(s), refresh the
    /// view, and look for a pool to take over.
    private func keep() {
        let (own, adopted) = state.withLock { ($0.own, $0.adopted) }
        do {
            try renewNode()
            try own?.renew()
            for pool in adopted.values { try pool.lease.renew() }
            own?.checkDevicesEpoch()
            for pool in adopted.values { pool.lease.checkDevicesEpoch() }
            dropLostPools()
            try publishNode()
            // A pool taken over is served by routers that keep no directory: its volumes made or
            // deleted since (a clone, a deletion forwarded there) are entered or removed here.
            for pool in adopted.values where pool.lease.serves { try reconcileVolumes(pool.served.engine, pool: pool.lease.pool, quiet: true) }
            try refreshView()
            state.withLock {
                $0.etcdReachable = true
                $0.lastError = nil
            }
            lookForTakeover()
        } catch {
            own?.checkDevicesEpoch()
            for pool in adopted.values { pool.lease.checkDevicesEpoch() }
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

    private func nodeRecord() -> NodeRecord {
        let own = state.withLock { $0.own }
        let figures = try? own?.engine?.pool()
        let held: [String] = if case .held = own?.hold, let pool = own?.pool { [pool] } else { [] }
        return NodeRecord(
            name: settings.nodeName, api: settings.api, s3: settings.s3, pools: held, freeBytes: figures?.freeBytes ?? 0,
            capacityBytes: figures?.capacityBytes ?? 0, takeover: settings.takeover, startedAt: startedAt)
    }

    /// The node's record, and one per pool taken over (named `<node>~<pool's first 8>`: the
    /// node serves it on listeners of its own), all on the node's lease.
    private func publishNode() throws {
        let (lease, adopted) = state.withLock { ($0.nodeLease, $0.adopted) }
        try etcd.put(keys.node(settings.nodeName), FleetJSON.encode(nodeRecord()), lease: lease)
        for pool in adopted.values {
            let figures = try? pool.served.engine.pool()
            let held: [String] = if case .held = pool.lease.hold { [pool.lease.pool] } else { [] }
            let record = NodeRecord(
                name: pool.lease.holder, api: pool.served.api, s3: pool.served.s3, pools: held, freeBytes: figures?.freeBytes ?? 0,
                capacityBytes: figures?.capacityBytes ?? 0, takeover: false, startedAt: startedAt, servesFor: settings.nodeName)
            try etcd.put(keys.node(pool.lease.holder), FleetJSON.encode(record), lease: lease)
        }
    }

    private func refreshView() throws {
        let readAt = WriteFence.now()
        let view = FleetView(try etcd.list(prefix: keys.prefix), keys: keys)
        state.withLock {
            $0.view = view
            $0.viewReadAt = readAt
        }
        for observer in viewObservers.withLock({ $0 }) { observer(view, readAt) }
    }

    /// Calls `observer` with every view read from now on (on the keeper's thread, or a request's),
    /// and once now with the latest.
    package func observeViews(_ observer: @escaping @Sendable (FleetView, Int64) -> Void) {
        viewObservers.withLock { $0.append(observer) }
        let (view, readAt) = state.withLock { ($0.view, $0.viewReadAt) }
        observer(view, readAt)
    }

    // MARK: taking over

    /// A pool with no owner whose devices this node reaches (each published path opens and
    /// carries the published pool and device UUIDs) is taken over on the takeover worker.
    private func lookForTakeover() {
        guard let serve = serving.withLock({ $0 }) else { return }
        let (view, own, adopted, adopting) = state.withLock { ($0.view, $0.own?.pool, Set($0.adopted.keys), $0.adopting) }
        guard adopting == nil else { return }
        for (pool, record) in view.devices.sorted(by: { $0.key < $1.key })
        where view.owners[pool] == nil && pool != own && !adopted.contains(pool) && !record.devices.isEmpty {
            guard record.devices.allSatisfy({ Engine.deviceCarries(path: $0.path, pool: pool, device: $0.id) }) else { continue }
            state.withLock { $0.adopting = pool }
            takeovers.run { [self] in
                adopt(pool, paths: record.devices.map(\.path), serve: serve)
                state.withLock { $0.adopting = nil }
            }
            return
        }
    }

    private func adopt(_ pool: String, paths: [String], serve: PoolServing) {
        let lease = PoolLease(
            pool: pool, holder: "\(settings.nodeName)~\(pool.prefix(8))", etcd: etcd, keys: keys, ttl: settings.leaseSeconds,
            margin: settings.marginSeconds, logger: logger, fence: WriteFence(open: false))
        do {
            try lease.take(waitSeconds: 0)
        } catch {
            logger.notice("fleet: pool \(pool) was not taken over here: \(error)")
            return
        }
        do {
            let served = try serve(pool, paths, lease.fence)
            do {
                try lease.attach(served.engine)
                state.withLock { $0.adopted[pool] = Adopted(lease: lease, served: served) }
                try publishNode()
                try refreshView()
                logger.notice("fleet: took pool \(pool) over under epoch \(lease.hold.epoch), served at \(served.api)")
            } catch {
                served.stop()
                throw error
            }
        } catch {
            logger.error("fleet: taking pool \(pool) over failed: \(error)")
            state.withLock { _ = $0.adopted.removeValue(forKey: pool) }
            lease.release()
        }
    }

    /// A pool taken over and then lost for good (another node took it): its listeners and engine
    /// stop (nothing is written: its fence is closed), and its record goes.
    private func dropLostPools() {
        let lost = state.withLock { state -> [Adopted] in
            let lost = state.adopted.values.filter { !$0.lease.serves }
            for pool in lost { state.adopted.removeValue(forKey: pool.lease.pool) }
            return lost
        }
        for pool in lost {
            pool.served.stop()
            try? etcd.delete(keys.node(pool.lease.holder))
        }
    }

    /// Stops the keeper, stops the pools taken over (written back while their leases hold), and
    /// gives every lease back, so other nodes see at once that this node is gone. The own pool's
    /// engine is to be closed before (its writeback needs the lease).
    package func leave() {
        keeper.withLock { $0 }?.stop()
        let (nodeLease, own, adopted) = state.withLock { ($0.nodeLease, $0.own, $0.adopted) }
        for pool in adopted.values {
            pool.served.stop()
            pool.lease.release()
        }
        own?.release()
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
            node: settings.nodeName, pool: snapshot.own?.pool, hold: snapshot.own?.hold ?? .none, writable: writable,
            etcdReachable: snapshot.etcdReachable, lastError: snapshot.lastError, view: snapshot.view)
    }
}
