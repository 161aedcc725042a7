// One pool's lease in etcd, as a node holds it: the lease and the epoch it was taken under, the
// pool's write fence, and the engine serving it. The node's own pool has one; so does each pool
// the node took over. Only the member's keeper renews it (one thread), and only through here.
//
// Taking: when the pool has no owner, the owner record (on a fresh lease) and the next epoch are
// written in one transaction that holds only if the epoch is still the one read. The fence is
// held open until renewedAt + TTL − margin on the local monotonic clock (the renewal's send time
// counts, not its answer's, so a slow answer never stretches it), and closed when the lease is
// lost, or when the devices carry a newer epoch than this hold's (another node took the pool).
package import Engine
import Foundation
import Logging

/// A pool's lease as this node holds it (or lost it).
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

package final class PoolLease: Sendable {
    private struct State {
        var hold = PoolHold.none
        var engine: Engine?
    }

    package let pool: String
    /// The name the owner record gives: the node, or for a pool taken over, the node's name for it.
    package let holder: String
    /// The pool's write fence: closed until the lease is taken.
    package let fence: WriteFence
    private let etcd: EtcdClient
    private let keys: FleetKeys
    private let ttl: Int
    private let margin: Double
    private let logger: Logger
    private let state = Lock(State())

    init(pool: String, holder: String, etcd: EtcdClient, keys: FleetKeys, ttl: Int, margin: Double, logger: Logger, fence: WriteFence) {
        self.fence = fence
        self.pool = pool
        self.holder = holder
        self.etcd = etcd
        self.keys = keys
        self.ttl = ttl
        self.margin = margin
        self.logger = logger
    }

    package var hold: PoolHold { state.withLock { $0.hold } }
    package var engine: Engine? { state.withLock { $0.engine } }

    /// Whether its volumes are served here (held, or lost only for now).
    package var serves: Bool {
        switch hold {
        case .held: true
        case .none: false
        case .lost(_, _, let forGood): !forGood
        }
    }

    /// Takes the lease; a live lease of the same holder (its previous run, killed) is waited out for
    /// up to `waitSeconds`, then refused; another holder's is refused at once.
    func take(waitSeconds: Double) throws {
        let deadline = WriteFence.now() + Int64(waitSeconds * 1e9)
        let lease = try etcd.grantLease(ttl: ttl)
        while true {
            let renewedAt = WriteFence.now()
            let epochRead = try etcd.get(keys.poolEpoch(pool))
            let epoch = (epochRead.flatMap { Int64($0.text) } ?? 0) + 1
            let owner = PoolOwnerRecord(node: holder, epoch: epoch, lease: lease.id)
            let result = try etcd.transaction(
                [.absent(keys.poolOwner(pool)), .modRevision(keys.poolEpoch(pool), equals: epochRead?.modRevision ?? 0)],
                success: [
                    .put(keys.poolOwner(pool), FleetJSON.encode(owner), lease: lease.id), .put(keys.poolEpoch(pool), Array(String(epoch).utf8)),
                ],
                failure: [.get(keys.poolOwner(pool))])
            if result.succeeded {
                state.withLock { $0.hold = .held(lease: lease.id, epoch: epoch, renewedAt: renewedAt, ttl: lease.ttl) }
                holdFence(renewedAt: renewedAt, ttl: lease.ttl)
                logger.info("holding pool \(pool) under epoch \(epoch)", metadata: ["holder": "\(holder)"])
                return
            }
            let current = result.found.first?.first.flatMap { FleetJSON.decode(PoolOwnerRecord.self, $0.value) }
            // Another holder's live lease is not waited out: only this holder's own (a killed run) ends soon.
            guard WriteFence.now() < deadline, current.map({ $0.node == holder }) ?? true else {
                try? etcd.revoke(lease.id)
                throw FleetError.poolHeld(pool: pool, node: current?.node ?? "?", epoch: current?.epoch ?? 0)
            }
            if let current {
                logger.notice("pool \(pool) is still held by \(current.node) (epoch \(current.epoch)): waiting for its lease to expire")
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// The engine serving the pool: the epoch goes into its devices first.
    func attach(_ engine: Engine) throws {
        state.withLock { $0.engine = engine }
        try engine.writeFleetEpoch(hold.epoch)
    }

    private func holdFence(renewedAt: Int64, ttl: Int) {
        fence.hold(until: renewedAt + Int64((Double(ttl) - margin) * 1e9))
    }

    /// Renews the lease; when it is gone, the pool is lost, and taken again only if no other node
    /// took it meanwhile (its epoch is still this hold's).
    func renew() throws {
        switch hold {
        case .none:
            return
        case .held(let lease, let epoch, _, _):
            let sent = WriteFence.now()
            let left = try etcd.keepAlive(lease)
            if left > 0 {
                let renewed = state.withLock { state -> Bool in
                    guard case .held(lease, epoch, _, _) = state.hold else { return false }
                    state.hold = .held(lease: lease, epoch: epoch, renewedAt: sent, ttl: left)
                    return true
                }
                if renewed { holdFence(renewedAt: sent, ttl: left) }
                return
            }
            lose(reason: "its lease expired", forGood: false)
            try retake(after: epoch)
        case .lost(let epoch, _, let forGood):
            if !forGood { try retake(after: epoch) }
        }
    }

    private func retake(after epoch: Int64) throws {
        guard let current = try etcd.get(keys.poolEpoch(pool)), Int64(current.text) == epoch else {
            lose(reason: "another node took the pool over", forGood: true)
            return
        }
        if try etcd.get(keys.poolOwner(pool)) != nil { return }
        try take(waitSeconds: 0)
        try engine?.writeFleetEpoch(hold.epoch)
    }

    /// A newer epoch in the devices' superblocks than this hold's: another node took the pool
    /// over (this node may not even have heard from etcd since: it was stopped, or cut off).
    func checkDevicesEpoch() {
        guard let engine else { return }
        let epoch = hold.epoch
        let onDevices = engine.fleetEpochOnDevices()
        if onDevices > epoch { lose(reason: "another node took the pool over (epoch \(onDevices) on its devices)", forGood: true) }
    }

    func lose(reason: String, forGood: Bool, released: Bool = false) {
        fence.close("the pool's lease was lost: \(reason)")
        let (changed, epoch) = state.withLock { state -> (Bool, Int64) in
            let epoch = state.hold.epoch
            if case .lost(_, _, true) = state.hold { return (false, epoch) }
            state.hold = .lost(epoch: epoch, reason: reason, forGood: forGood)
            return (true, epoch)
        }
        if changed, released {
            logger.info("fleet: gave pool \(pool) (epoch \(epoch)) back: \(reason)")
        } else if changed {
            logger.critical("fleet: lost pool \(pool) (epoch \(epoch)): \(reason); nothing is written to it")
        }
    }

    /// Gives the lease back (a clean stop): another node may take the pool at once.
    func release() {
        guard case .held(let lease, _, _, _) = hold else { return }
        lose(reason: "the node left the fleet", forGood: true, released: true)
        try? etcd.revoke(lease)
    }
}
