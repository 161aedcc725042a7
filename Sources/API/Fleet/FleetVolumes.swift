// The volume list and volume creation of a fleet: any node lists every node's volumes, and a
// create on any node places the volume on a node (the one asked for, a clone's origin's, or the
// one with the most free space) and is made there, its name entered in the directory first (an
// etcd transaction: names are unique across the fleet).
import Engine
import Fleet
import Foundation

extension FleetRouting {
    /// The node a new volume goes to (nil: this one). `requested`: a node named in the request;
    /// `origin`: a clone's origin volume, which must be on the same pool.
    func placement(requested: String?, origin: String?) throws -> NodeRecord? {
        var view = member.view(refresh: true)
        // A node that joined since the view was read (within its last quarter second).
        if let requested, view.nodes[requested] == nil { view = member.view(force: true) }
        let me = member.settings.nodeName
        if let origin {
            guard let target = target(volume: origin) else { return nil }  // Here, or not a volume: the create says which.
            guard let node = target.node, let record = view.nodes[node] else {
                throw HTTPError.unavailable("volume \(origin) is served by no node of the fleet now; retry shortly")
            }
            if let requested, requested != node {
                throw HTTPError.badRequest("a clone is made on its origin's node: \(origin) is on \(node), not \(requested)")
            }
            return record
        }
        if let requested {
            guard let record = view.nodes[requested], record.servesFor == nil else {
                throw HTTPError.badRequest("field 'node': no node \(requested) in the fleet now")
            }
            guard !record.pools.isEmpty else { throw HTTPError.badRequest("field 'node': node \(requested) serves no pool of its own now") }
            return requested == me ? nil : record
        }
        let candidates = view.nodes.values.filter { !$0.pools.isEmpty && $0.servesFor == nil }
        guard let best = candidates.max(by: { $0.freeBytes < $1.freeBytes }) else {
            guard member.servesPool else { throw HTTPError.unavailable("no node of the fleet serves a pool of its own now; retry shortly") }
            return nil
        }
        // This node wins a tie with the best (when it serves a pool of its own).
        let here = member.servesPool ? view.nodes[me] : nil
        if best.name == me || (here.map { $0.freeBytes >= best.freeBytes } ?? false) { return nil }
        return best
    }

    /// Sends `request` (its body buffered) to `node` as a forwarded request, and its answer back.
    func relay(_ request: HTTPRequest, to node: NodeRecord) throws -> HTTPResponse {
        try relay(request, to: node.api, node: node.name)
    }

    /// Sends `request` (its body buffered) to the node at `base` as a forwarded request, and its
    /// answer back.
    func relay(_ request: HTTPRequest, to base: String, node: String) throws -> HTTPResponse {
        let headers = ForwardedRequest.passedHeaders(request, forwardedBy: member.settings.nodeName)
        let exchange = HTTPExchange(
            method: request.method, url: base + request.sentPath + Self.query(request), headers: headers,
            body: request.body.isEmpty ? .none : .bytes(request.body), timeout: 60)
        let answer: HTTPAnswer
        do {
            answer = try member.http.fetch(exchange)
        } catch {
            throw HTTPError.badGateway("node \(node) did not answer: \(error.message)")
        }
        return HTTPResponse(status: answer.status, headers: ForwardedRequest.answerHeaders(answer.headers), body: answer.body)
    }

    /// Every other live node's volumes (their own lists), and the nodes that did not answer.
    func remoteVolumes(_ request: HTTPRequest) -> (volumes: [VolumeJSON], unreachable: [String]) {
        var volumes: [VolumeJSON] = []
        var unreachable: [String] = []
        let view = member.view()
        for node in view.nodes.values.sorted(by: { $0.name < $1.name }) where node.name != member.settings.nodeName {
            guard
                let answer = try? relay(
                    HTTPRequest(method: "GET", path: "/v1/volumes", query: [], lowercasedHeaders: request.headers, body: []), to: node),
                answer.status == 200, let list = try? JSONDecoder().decode(VolumeListJSON.self, from: Data(answer.body))
            else {
                unreachable.append(node.name)
                continue
            }
            volumes += list.volumes.map { volume in
                var volume = volume
                volume.node = volume.node ?? node.name  // a pool taken over: its listener is not in the fleet itself
                return volume
            }
        }
        return (volumes, unreachable)
    }

    /// `?query` as it was sent (raw), or nothing.
    static func query(_ request: HTTPRequest) -> String {
        request.query.isEmpty ? "" : "?" + request.query.map { pair in pair.value.map { "\(pair.name)=\($0)" } ?? pair.name }.joined(separator: "&")
    }
}
