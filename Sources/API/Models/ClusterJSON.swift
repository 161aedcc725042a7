// Wire DTO for GET /v1/cluster (openapi.yaml: Cluster): this node's standing and the fleet as its
// latest view shows it. Keys in snake_case; an unknown (nil) field is left out.
import Engine
import Fleet
import Foundation

struct ClusterJSON: Encodable, Sendable {
    struct Pool: Encodable, Sendable {
        var id: String
        /// held, lost, or none (the node serves no pool of its own: another node holds the one its
        /// devices carry)
        var lease: String
        var epoch: Int64
        var writable: Bool
        var leaseSecondsLeft: Double?
        var lostReason: String?
    }

    struct Etcd: Encodable, Sendable {
        var endpoints: [String]
        var reachable: Bool
        var lastError: String?
    }

    struct Node: Encodable, Sendable {
        var name: String
        var api: String
        var s3: String?
        var pools: [String]
        var freeBytes: Int64
        var capacityBytes: Int64
        var takeover: Bool
        var startedAt: String
    }

    struct FleetPool: Encodable, Sendable {
        var id: String
        var owner: String?
        var epoch: Int64
        var devices: [PoolDevicesRecord.Device]
    }

    struct Volume: Encodable, Sendable {
        var name: String
        var pool: String
        var node: String?
    }

    var node: String
    var pool: Pool
    var etcd: Etcd
    var nodes: [Node]
    var pools: [FleetPool]
    var volumes: [Volume]

    init(_ standing: FleetMember.Standing, endpoints: [String]) {
        node = standing.node
        let id = standing.pool ?? ""
        switch standing.hold {
        case .held(_, let epoch, let renewedAt, let ttl):
            let left = Double(ttl) - Double(WriteFence.now() - renewedAt) / 1e9
            pool = Pool(id: id, lease: "held", epoch: epoch, writable: standing.writable, leaseSecondsLeft: max(0, left), lostReason: nil)
        case .lost(let epoch, let reason, _):
            pool = Pool(id: id, lease: "lost", epoch: epoch, writable: false, leaseSecondsLeft: nil, lostReason: reason)
        case .none:
            pool = Pool(id: id, lease: "none", epoch: 0, writable: false, leaseSecondsLeft: nil, lostReason: nil)
        }
        etcd = Etcd(endpoints: endpoints, reachable: standing.etcdReachable, lastError: standing.lastError)
        let view = standing.view
        nodes = view.nodes.values.sorted { $0.name < $1.name }.map {
            Node(
                name: $0.name, api: $0.api, s3: $0.s3, pools: $0.pools, freeBytes: $0.freeBytes, capacityBytes: $0.capacityBytes,
                takeover: $0.takeover, startedAt: $0.startedAt)
        }
        pools = Set(view.epochs.keys).union(view.owners.keys).sorted().map { id in
            FleetPool(
                id: id, owner: view.owners[id]?.node, epoch: view.owners[id]?.epoch ?? view.epochs[id] ?? 0, devices: view.devices[id]?.devices ?? [])
        }
        volumes = view.volumes.sorted { $0.key < $1.key }.map { name, entry in
            Volume(name: name, pool: entry.pool, node: view.owners[entry.pool]?.node)
        }
    }

    /// The answer: snake_case keys; a field unknown (nil) is left out.
    var response: HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let body = (try? encoder.encode(self)).map(Array.init) ?? Array("{}".utf8)
        return HTTPResponse(status: 200, headers: [("Content-Type", "application/json")], body: body)
    }
}
