// /v1/volumes: create, list, show, resize, delete.
import Engine

struct VolumeHandlers {
    let engine: Engine
    /// S3 access keys: a deleted volume's permissions go with it (the catalog drops them too).
    var keys: AccessKeyStore?

    func register(in router: inout Router) {
        router.add("GET", "/v1/volumes") { [engine] _, _ in
            .json(VolumeListJSON(volumes: try engine.listVolumes().map(VolumeJSON.init)))
        }
        router.add("POST", "/v1/volumes") { [engine] request, _ in
            let body = try JSONBody.decode(VolumeCreateJSON.self, from: request.body, allowedFields: VolumeCreateJSON.fields)
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
            return .json(VolumeJSON(volume), status: 201, headers: [("Location", "/v1/volumes/\(volume.name)")])
        }
        router.add("GET", "/v1/volumes/{name}") { [engine] _, context in
            .json(VolumeJSON(try engine.volume(named: context.parameter("name"))))
        }
        router.add("PATCH", "/v1/volumes/{name}") { [engine] request, context in
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
            return .json(VolumeJSON(volume!))
        }
        router.add("DELETE", "/v1/volumes/{name}") { [engine, keys] request, context in
            let force = try QueryValues.bool("force", in: request, default: false)
            try engine.deleteVolume(named: context.parameter("name"), force: force)
            keys?.forgetVolume(context.parameter("name"))
            return .noContent()
        }
    }
}
