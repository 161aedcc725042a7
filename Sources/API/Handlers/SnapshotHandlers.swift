// /v1/volumes/{name}/snapshots: take, list, show and delete a volume's snapshots. Reading one is
// `?snapshot=NAME` on an object's GET/HEAD and on the objects listing (ObjectHandlers).
import Engine

struct SnapshotHandlers {
    let engine: Engine

    func register(in router: inout Router) {
        router.add("POST", "/v1/volumes/{name}/snapshots") { [engine] request, context in
            let body = try JSONBody.decode(SnapshotCreateJSON.self, from: request.body, allowedFields: SnapshotCreateJSON.fields)
            let volume = context.parameter("name")
            let snapshot = try engine.createSnapshot(volume: volume, snapshot: body.name)
            return .json(
                SnapshotJSON(snapshot), status: 201, headers: [("Location", "/v1/volumes/\(volume)/snapshots/\(snapshot.name)")])
        }
        router.add("GET", "/v1/volumes/{name}/snapshots") { [engine] _, context in
            .json(SnapshotListJSON(snapshots: try engine.snapshots(volume: context.parameter("name")).map(SnapshotJSON.init)))
        }
        router.add("GET", "/v1/volumes/{name}/snapshots/{snapshot}") { [engine] _, context in
            .json(SnapshotJSON(try engine.snapshot(volume: context.parameter("name"), named: context.parameter("snapshot"))))
        }
        router.add("DELETE", "/v1/volumes/{name}/snapshots/{snapshot}") { [engine] _, context in
            try engine.deleteSnapshot(volume: context.parameter("name"), snapshot: context.parameter("snapshot"))
            return .noContent()
        }
    }
}
