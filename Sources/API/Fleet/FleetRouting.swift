// How a node of a fleet routes: a request naming a volume another node serves is forwarded to
// that node (ForwardedRequest), decided from the member's latest view of the volume directory
// (memory only: it runs on the event loop). A forwarded request carries `X-Appliance-Forwarded-By`
// and is never forwarded again: the node it reaches answers it itself.
package import Engine
package import Fleet

package struct FleetRouting: Sendable {
    static let forwardedHeader = "X-Appliance-Forwarded-By"

    package let member: FleetMember
    /// The threads forwarded transfers run on (one per request in flight).
    let workers: WorkerPool

    package init(member: FleetMember) {
        self.member = member
        workers = WorkerPool(name: "forward", keepIdle: 8)
    }

    /// The volume `name`'s node, when another node serves it (nil: this node, or no such volume):
    /// its API's URL, or with `s3` its S3 endpoint's.
    /// With `lookUp`, the volume's entry is read from etcd first (see `FleetMember.view(lookingUp:)`).
    func target(volume name: String, s3: Bool = false, lookUp: Bool = false) -> ForwardTarget? {
        let view = lookUp ? member.view(lookingUp: name) : member.view()
        guard let entry = view.volumes[name] else { return nil }
        // This node's pool, unless it lost it for good (another node took it over: it is served there).
        if entry.pool == member.poolID, member.servesPool { return nil }
        guard let owner = view.owners[entry.pool], owner.node != member.settings.nodeName, let node = view.nodes[owner.node] else {
            return ForwardTarget(volume: name, node: nil, base: nil)
        }
        return ForwardTarget(volume: name, node: node.name, base: s3 ? node.s3 : node.api)
    }

    /// The volumes another node serves (or no node now), by name: their node and its admin API's
    /// URL (a pool taken over: the node that took it, not its pool's own listener).
    func volumesElsewhere() -> [(name: String, node: String?, console: String?)] {
        let view = member.view()
        return view.volumes.keys.sorted().compactMap { name in
            guard let target = target(volume: name) else { return nil }
            guard let node = target.node.flatMap({ view.nodes[$0] }) else { return (name, nil, nil) }
            let home = node.servesFor.flatMap { view.nodes[$0] } ?? node
            return (name, home.name, home.api)
        }
    }

    /// `/v1/volumes/{name}` and everything under it.
    func target(nativePath path: String) -> ForwardTarget? {
        let prefix = "/v1/volumes/"
        guard path.hasPrefix(prefix) else { return nil }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        let raw = rest.prefix { $0 != UInt8(ascii: "/") }
        guard !raw.isEmpty, let name = PercentDecoding.decode(String(decoding: raw, as: UTF8.self)) else { return nil }
        return target(volume: name)
    }

    /// `/{bucket}` and everything under it (S3, path-style or a virtual host's routed path).
    func target(s3Path path: String) -> ForwardTarget? {
        let raw = path.utf8.dropFirst().prefix { $0 != UInt8(ascii: "/") }
        guard !raw.isEmpty, let name = PercentDecoding.decode(String(decoding: raw, as: UTF8.self)) else { return nil }
        return target(volume: name, s3: true)
    }

    /// The forwarding route's body opener.
    func open(_ request: HTTPRequest, context: RequestContext) throws -> any RequestBodySink {
        guard let node = context.parameters[ForwardTarget.nodeParameter], let base = context.parameters[ForwardTarget.baseParameter] else {
            preconditionFailure("the forwarding route carries its target")
        }
        return sink(for: request, base: base, node: node)
    }

    /// What carries `request` to the node at `base`: relayed whole when it is a small change,
    /// else streamed both ways.
    func sink(for request: HTTPRequest, base: String, node: String) -> any RequestBodySink {
        if RelayedRequest.fits(request) { return RelayedRequest(request, base: base, node: node, fleet: self) }
        return ForwardedRequest(request, base: base, node: node, forwardedBy: member.settings.nodeName, client: member.http, workers: workers)
    }

    /// Whether `request` came from another node of the fleet.
    static func isForwarded(_ request: HTTPRequest) -> Bool { request.header(forwardedHeader) != nil }
}
