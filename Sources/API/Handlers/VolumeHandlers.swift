// /v1/volumes: create, list, show, resize, delete.
import Engine
import Fleet

struct VolumeHandlers {
    let engine: Engine
    /// S3 access keys: a deleted volume's permissions go with it (the catalog drops them too).
    var keys: AccessKeyStore?
    /// In a fleet: every node's volumes are listed, a new one placed and entered in the directory.
    var fleet: FleetRouting?

    /// A volume of this node as the API shows it (in a fleet, with this node's name).
    private static func json(_ info: VolumeInfo, fleet: FleetRouting?) -> VolumeJSON {
        var json = VolumeJSON(info)
        json.node = fleet?.member.settings.nodeName
        return json
    }

    func register(in router: inout Router) {
        router.add("GET", "/v1/volumes") { [engine, fleet] request, _ in
            var list = VolumeListJSON(volumes: try engine.listVolumes().map { Self.json($0, fleet: fleet) })
            if let fleet, !FleetRouting.isForwarded(request) {
                let remote = fleet.remoteVolumes(request)
                list.volumes = (list.volumes + remote.volumes).sorted { $0.name < $1.name }
                list.unreachableNodes = remote.unreachable
            }
            return .json(list)
        }
        router.add("POST", "/v1/volumes") { [engine, fleet] request, _ in
            let body = try JSONBody.decode(VolumeCreateJSON.self, from: request.body, allowedFields: VolumeCreateJSON.fields)
            if body.node != nil && fleet == nil { throw HTTPError.badRequest("field 'node': this appliance is not in a fleet") }
            if let fleet, !FleetRouting.isForwarded(request),
                let node = try fleet.placement(requested: body.node, origin: body.cloneOf.map { String($0.prefix { $0 != "@" }) })
            {
                return try fleet.relay(request, to: node)
            }
            // The name is the fleet's first (unique across it), then the volume is made here.
            if let fleet, try !fleet.member.enterVolume(body.name) {
                throw EngineError.volumeExists(name: body.name)
            }
            do {
                return try Self.create(body, engine: engine, fleet: fleet)
            } catch {
                try? fleet?.member.removeVolume(body.name)
                throw error
            }
        }
        router.add("GET", "/v1/volumes/{name}") { [engine, fleet] _, context in
            .json(Self.json(try engine.volume(named: context.parameter("name")), fleet: fleet))
        }
        router.add("PATCH", "/v1/volumes/{name}") { [engine, fleet] request, context in
            let body = try JSONBody.decode(VolumeUpdateJSON.self, from: request.body, allowedFields: VolumeUpdateJSON.fields)
            let name = context.parameter("name")
            guard body.capacityBytes != nil || body.versioning != nil else {
                throw HTTPError.badRequest("give capacity_bytes, versioning, or both")
            }
            let versioning = try body.versioning.map { value in
                guard let parsed = Versioning(rawValue: value) else {
                    throw HTTPError.badRequest("field 'versioning' must be off, enabled or suspended")
                }
                return parsed
            }
            // A refused versioning change is refused before the capacity changes; a refused
            // capacity comes before the versioning changes.
            if versioning == .off, try engine.volume(named: name).versioning != .off { throw EngineError.versioningCannotTurnOff(volume: name) }
            var volume = try body.capacityBytes.map { try engine.resizeVolume(named: name, capacityBytes: $0) }
            if let versioning { volume = try engine.setVersioning(named: name, versioning) }
            return .json(Self.json(volume!, fleet: fleet))
        }
        router.add("DELETE", "/v1/volumes/{name}") { [engine, keys, fleet] request, context in
            let force = try QueryValues.bool("force", in: request, default: false)
            try engine.deleteVolume(named: context.parameter("name"), force: force)
            keys?.forgetVolume(context.parameter("name"))
            try? fleet?.member.removeVolume(context.parameter("name"))
            return .noContent()
        }
    }

    /// Makes the volume `body` asks for on this node.
    private static func create(_ body: VolumeCreateJSON, engine: Engine, fleet: FleetRouting?) throws -> HTTPResponse {
        let provisioning = try body.provisioning.map { value in
            guard let parsed = Provisioning(rawValue: value) else { throw HTTPError.badRequest("field 'provisioning' must be thin or thick") }
            return parsed
        }
        let volume: VolumeInfo
        if let cloneOf = body.cloneOf {
            let parts = cloneOf.split(separator: "@", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw HTTPError.badRequest("field 'clone_of' must be volume@snapshot")
            }
            volume = try engine.createClone(
                name: body.name, origin: String(parts[0]), snapshot: String(parts[1]), capacityBytes: body.capacityBytes, replicas: body.replicas,
                provisioning: provisioning)
        } else {
            guard let capacity = body.capacityBytes else { throw HTTPError.badRequest("field 'capacity_bytes' is required") }
            volume = try engine.createVolume(
                name: body.name, capacityBytes: capacity, replicas: body.replicas ?? 1, provisioning: provisioning ?? .thin)
        }
        return .json(Self.json(volume, fleet: fleet), status: 201, headers: [("Location", "/v1/volumes/\(volume.name)")])
    }
}
