// /v1/devices: add, list, show, change state (draining moves every copy off), remove (force:
// move the copies off first, re-creating a dead device's from the other copies).
import Engine

struct DeviceHandlers {
    let engine: Engine

    func register(in router: inout Router) {
        router.add("GET", "/v1/devices") { [engine] _, _ in
            .json(DeviceListJSON(devices: try engine.listDevices().map(DeviceJSON.init)))
        }
        router.add("POST", "/v1/devices") { [engine] request, _ in
            let body = try JSONBody.decode(
                DeviceCreateJSON.self, from: request.body, allowedFields: DeviceCreateJSON.fields, nullableFields: ["label"])
            if let label = body.label, label.count > 128 {
                throw HTTPError.badRequest("field 'label' must be at most 128 characters")
            }
            if body.path.utf8.count > 4096 { throw HTTPError.badRequest("field 'path' must be at most 4096 bytes") }
            if let bytes = body.metadataBytes, bytes < MetadataAreaFormat.minimumBytes || bytes % (1 << 20) != 0 {
                throw HTTPError.badRequest(
                    "field 'metadata_bytes' must be a whole number of MiB, at least \(MetadataAreaFormat.minimumBytes >> 20) MiB")
            }
            let device = try engine.addDevice(path: body.path, label: body.label, force: body.force ?? false, metadataBytes: body.metadataBytes)
            return .json(DeviceJSON(device), status: 201, headers: [("Location", "/v1/devices/\(device.id)")])
        }
        router.add("GET", "/v1/devices/{id}") { [engine] _, context in
            .json(DeviceJSON(try engine.device(id: context.parameter("id"))))
        }
        router.add("PATCH", "/v1/devices/{id}") { [engine] request, context in
            let body = try JSONBody.decode(DeviceUpdateJSON.self, from: request.body, allowedFields: DeviceUpdateJSON.fields)
            guard let state = DeviceState(rawValue: body.state), state == .active || state == .readonly || state == .draining else {
                throw HTTPError.badRequest("field 'state' must be active, readonly or draining")
            }
            return .json(DeviceJSON(try engine.setDeviceState(id: context.parameter("id"), to: state)))
        }
        router.add("DELETE", "/v1/devices/{id}") { [engine] request, context in
            let force = try QueryValues.bool("force", in: request, default: false)
            try engine.removeDevice(id: context.parameter("id"), force: force)
            return .noContent()
        }
    }
}
