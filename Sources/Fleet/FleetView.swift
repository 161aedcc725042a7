// The fleet as one read of etcd showed it: nodes alive, pools' owners, the volume directory, the
// access keys.
// A value: the member keeps the latest (refreshed by its keeper, and on a miss), and every
// routing decision reads one.
import Foundation

package struct FleetView: Sendable {
    package var nodes: [String: NodeRecord] = [:]
    package var owners: [String: PoolOwnerRecord] = [:]
    package var epochs: [String: Int64] = [:]
    package var devices: [String: PoolDevicesRecord] = [:]
    package var volumes: [String: VolumeEntry] = [:]
    package var accessKeys: [String: AccessKeyEntry] = [:]

    package init() {}

    /// Parses every key under `keys.prefix`; a value that does not parse is left out.
    init(_ found: [EtcdKeyValue], keys: FleetKeys) {
        for kv in found {
            let key = kv.key
            if key.hasPrefix(keys.nodes) {
                if let record = FleetJSON.decode(NodeRecord.self, kv.value) { nodes[String(key.dropFirst(keys.nodes.count))] = record }
            } else if key.hasPrefix(keys.volumes) {
                if let entry = FleetJSON.decode(VolumeEntry.self, kv.value) { volumes[String(key.dropFirst(keys.volumes.count))] = entry }
            } else if key.hasPrefix(keys.accessKeys) {
                if let entry = FleetJSON.decode(AccessKeyEntry.self, kv.value) { accessKeys[entry.id] = entry }
            } else if key.hasPrefix(keys.pools) {
                let rest = key.dropFirst(keys.pools.count).split(separator: "/", maxSplits: 1)
                guard rest.count == 2 else { continue }
                let pool = String(rest[0])
                switch rest[1] {
                case "owner": if let owner = FleetJSON.decode(PoolOwnerRecord.self, kv.value) { owners[pool] = owner }
                case "epoch": if let epoch = Int64(kv.text) { epochs[pool] = epoch }
                case "devices": if let record = FleetJSON.decode(PoolDevicesRecord.self, kv.value) { devices[pool] = record }
                default: break
                }
            }
        }
    }

    /// The node serving `volume` now: nil when the volume is not in the directory or its pool
    /// has no live owner.
    package func node(serving volume: String) -> NodeRecord? {
        guard let pool = volumes[volume]?.pool, let owner = owners[pool] else { return nil }
        return nodes[owner.node]
    }
}
