// /v1/access-keys: S3 access keys (create — the only answer with the secret —, list, show,
// change, delete). Permissions name volumes (or `*`, every volume) with read, write or owner.
import Engine

struct AccessKeyHandlers {
    let keys: AccessKeyStore

    func register(in router: inout Router) {
        router.add("GET", "/v1/access-keys") { [keys] _, _ in
            try keys.refresh()  // in a fleet, as etcd has them now
            return .json(AccessKeyListJSON(accessKeys: keys.all.map { AccessKeyJSON($0) }))
        }
        router.add("POST", "/v1/access-keys") { [keys] request, _ in
            let body = try JSONBody.decode(AccessKeyCreateJSON.self, from: request.body, allowedFields: AccessKeyCreateJSON.fields)
            try Self.validate(name: body.name)
            let key = try keys.create(
                name: body.name, permissions: try Self.permissions(body.permissions ?? [:]), createBuckets: body.createBuckets ?? false)
            return .json(AccessKeyJSON(key, withSecret: true), status: 201, headers: [("Location", "/v1/access-keys/\(key.id)")])
        }
        router.add("GET", "/v1/access-keys/{id}") { [keys] _, context in
            try keys.refresh()
            guard let key = keys.key(id: context.parameter("id")) else { throw EngineError.accessKeyNotFound(id: context.parameter("id")) }
            return .json(AccessKeyJSON(key))
        }
        router.add("PATCH", "/v1/access-keys/{id}") { [keys] request, context in
            let body = try JSONBody.decode(AccessKeyUpdateJSON.self, from: request.body, allowedFields: AccessKeyUpdateJSON.fields)
            if let name = body.name { try Self.validate(name: name) }
            let permissions = try body.permissions.map { try Self.permissions($0) }
            let key = try keys.update(id: context.parameter("id")) { key in
                if let name = body.name { key.name = name }
                if let permissions { key.permissions = permissions }
                if let createBuckets = body.createBuckets { key.createBuckets = createBuckets }
            }
            return .json(AccessKeyJSON(key))
        }
        router.add("DELETE", "/v1/access-keys/{id}") { [keys] _, context in
            try keys.delete(id: context.parameter("id"))
            return .noContent()
        }
    }

    static func validate(name: String) throws(HTTPError) {
        guard (1...128).contains(name.count), !name.contains(where: { $0.isNewline || $0 == "\0" }) else {
            throw .badRequest("field 'name' must be 1 to 128 characters without line breaks")
        }
    }

    /// Volume name (or `*`) → read | write | owner.
    static func permissions(_ raw: [String: String]) throws(HTTPError) -> [String: AccessKey.Permission] {
        var result: [String: AccessKey.Permission] = [:]
        for (volume, value) in raw {
            guard let permission = AccessKey.Permission(rawValue: value) else {
                throw .badRequest("permission for '\(volume)' must be read, write or owner")
            }
            if volume != AccessKeyStore.wildcard {
                do {
                    try S3Handlers.validateBucketName(volume)
                } catch {
                    throw .badRequest("permissions: '\(volume)' is not a volume name (3 to 63 of a-z, 0-9 and '-') nor '*'")
                }
            }
            result[volume] = permission
        }
        return result
    }
}
