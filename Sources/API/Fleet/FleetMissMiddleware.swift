// A request naming a volume this node does not have, and that the latest view of the fleet did
// not place elsewhere either (made through another node a moment ago: the view is refreshed
// every quarter of a lease): the volume's entry is read from etcd (one key), and a
// volume another node serves is forwarded there after all — a streaming route's request as
// `FleetRouting.sink` carries it (streamed, or a small change relayed whole), a buffered one
// relayed whole. A volume nobody has is answered here (404).
import Engine
import Fleet

struct FleetMissMiddleware: Middleware {
    let fleet: FleetRouting
    let engine: Engine
    /// S3: the bucket's node's S3 endpoint.
    let s3: Bool

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        guard s3 || context.route.hasPrefix("/v1/volumes/"), let name = context.parameters["name"] ?? context.parameters["bucket"],
            context.parameters[ForwardTarget.nodeParameter] == nil,
            !FleetRouting.isForwarded(request), try engine.volumeExists(named: name, mayWait: false) != true
        else { return try next(request, context) }
        guard context.mayBlock else { throw NeedsWorker() }
        guard try engine.volumeExists(named: name) == false,
            let target = fleet.target(volume: name, s3: s3, lookUp: true), let node = target.node, let base = target.base
        else { return try next(request, context) }
        if case .success(.stream) = context.resolution {
            return .opened(fleet.sink(for: request, base: base, node: node), context)
        }
        return .response(try fleet.relay(request, to: base, node: node))
    }
}
