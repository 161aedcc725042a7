// GET /v1/cluster: this node's standing in the fleet (its pool's lease, epoch, whether it may
// write, etcd's reachability) and the fleet as its latest view shows it.
import Fleet

struct ClusterHandlers {
    var fleet: FleetRouting?

    func register(in router: inout Router) {
        router.add("GET", "/v1/cluster") { [fleet] _, _ in
            guard let fleet else { throw HTTPError.notFound("this appliance is not in a fleet (start it with --cluster)") }
            return ClusterJSON(fleet.member.standing(), endpoints: fleet.member.etcd.endpoints).response
        }
    }
}
