// The console's pages other than the object browser: overview, volumes, devices, access keys,
// activity. Each reads the engine for its figures and changes things through the API in process.
import Engine
import Fleet
import Foundation

extension ConsoleHandlers {
    // MARK: overview

    func overview(_ session: ConsoleSessions.Session) throws -> HTTPResponse {
        let snapshot = try engine.snapshot()
        let pool = snapshot.pool
        let visible = visibleVolumes(snapshot.volumes, session)
        let scrub = engine.scrubStatus()
        let devices: [[String: Any]] = snapshot.devices.map { device in
            let io = snapshot.io.devices[device.id] ?? IOCounters()
            return [
                "name": device.label ?? device.id, "state": device.state.rawValue, "used": Self.bytes(device.usedBytes),
                "capacity": Self.bytes(device.capacityBytes),
                "errors": io.ioErrors + io.checksumErrors == 0 ? "none" : "\(io.ioErrors) IO, \(io.checksumErrors) checksum",
            ]
        }
        var data: [String: Any] = [
            "bar": capacityBar(capacity: pool.capacityBytes, used: pool.allocatedBytes, reserved: pool.reservedBytes),
            "capacity": Self.bytes(pool.capacityBytes), "allocated": Self.bytes(pool.allocatedBytes), "reserved": Self.bytes(pool.reservedBytes),
            "free": Self.bytes(pool.freeBytes), "degraded": Self.bytes(pool.degradedBytes), "degraded_alert": pool.degradedBytes > 0,
            "volume_count": visible.count, "devices": devices,
            "metadata_healthy": pool.metadataCopies.healthy, "metadata_wanted": pool.metadataCopies.wanted,
            "metadata_short": pool.metadataCopies.healthy < pool.metadataCopies.wanted,
            "scrub_state": scrub.state.rawValue,
            "scrub_finished": scrub.finishedAt.map { $0.formatted(.iso8601) } ?? "never",
            "scrub_errors": scrub.errors, "scrub_repaired": scrub.repaired,
        ]
        if case .key(let id) = session.principal { data["key_id"] = id }
        if scrub.state == .running, scrub.totalBytes > 0 {
            data["scrub_progress"] = "\(Self.bytes(scrub.checkedBytes)) of \(Self.bytes(scrub.totalBytes))"
        }
        return render("Overview", "overview", data, session: session, refresh: scrub.state == .running ? 5 : nil)
    }

    /// Used / reserved / free as one bar (SVG: no inline style), with its legend.
    func capacityBar(capacity: Int64, used: Int64, reserved: Int64) -> String {
        let total = Double(max(capacity, 1))
        let free = max(capacity - used - reserved, 0)
        var x = 0.0
        var segments: [[String: Any]] = []
        for (kind, value, name) in [("used", used, "used"), ("reserved", reserved, "reserved"), ("free", free, "free")] {
            let width = Double(value) / total * 1000
            segments.append([
                "kind": kind, "x": String(format: "%.1f", x), "width": String(format: "%.1f", width), "title": "\(name) \(Self.bytes(value))",
            ])
            x += width
        }
        return ConsoleTemplates.render(
            "bar", ["segments": segments, "label": "used \(Self.bytes(used)), reserved \(Self.bytes(reserved)), free \(Self.bytes(free))"])
    }

    /// The volumes a session may see: all for the admin, those its key may read otherwise (S3's rule).
    func visibleVolumes(_ volumes: [VolumeInfo], _ session: ConsoleSessions.Session) -> [VolumeInfo] {
        volumes.filter { may(.read, $0.name, session) }
    }

    func may(_ needed: AccessKey.Permission, _ volume: String, _ session: ConsoleSessions.Session) -> Bool {
        switch session.principal {
        case .admin: return true
        case .key(let id):
            guard let granted = keys.key(id: id)?.permission(on: volume) else { return false }
            return granted >= needed
        }
    }

    // MARK: volumes

    func registerVolumes(in router: inout Router) {
        router.add("GET", "/ui/volumes") { request, _ in page(request, admin: false) { try volumesPage($0) } }
        router.add("POST", "/ui/volumes") { request, _ in
            try changing(request, admin: true) { session, form in
                var body: [String: Any] = ["name": form["name"] ?? "", "provisioning": form["provisioning"] ?? "thin"]
                guard let capacity = Int64(form["capacity_bytes"] ?? ""), let replicas = Int64(form["replicas"] ?? "1") else {
                    sessions.setFlash(session.id, .init(text: "Capacity and replicas must be whole numbers.", isError: true))
                    return Self.redirect("/ui/volumes")
                }
                body["capacity_bytes"] = capacity
                body["replicas"] = replicas
                return respondTo(
                    try callAPI("POST", "/v1/volumes", body), session, done: "Volume \(form["name"] ?? "") created.", back: "/ui/volumes")
            }
        }
        router.add("POST", "/ui/volumes/{name}/resize") { request, context in
            try changing(request, admin: true) { session, form in
                let name = try context.parameter("name")
                guard let capacity = Int64(form["capacity_bytes"] ?? "") else {
                    sessions.setFlash(session.id, .init(text: "The capacity must be a whole number of bytes.", isError: true))
                    return Self.redirect("/ui/volumes")
                }
                return respondTo(
                    try callAPI("PATCH", "/v1/volumes/\(Self.segment(name))", ["capacity_bytes": capacity]), session,
                    done: "Volume \(name) resized to \(Self.bytes(capacity)).", back: "/ui/volumes")
            }
        }
        router.add("POST", "/ui/volumes/{name}/delete") { request, context in
            try changing(request, admin: true) { session, _ in
                let name = try context.parameter("name")
                return respondTo(
                    try callAPI("DELETE", "/v1/volumes/\(Self.segment(name))?force=true"), session, done: "Volume \(name) deleted.",
                    back: "/ui/volumes")
            }
        }
    }

    func volumesPage(_ session: ConsoleSessions.Session) throws -> HTTPResponse {
        // A node that lost its pool for good serves none of the volumes its catalog still lists.
        let volumes = fleet?.member.servesPool == false ? [] : visibleVolumes(try engine.listVolumes(), session)
        let rows: [[String: Any]] = volumes.map { volume in
            [
                "name": volume.name, "path": Self.segment(volume.name), "provisioning": volume.provisioning.rawValue, "replicas": volume.replicas,
                "used": Self.bytes(volume.usedBytes), "reserved": Self.bytes(volume.reservedBytes), "dirty": Self.bytes(volume.cache.dirtyBytes),
                "dirty_pages": volume.cache.dirtyPages, "writeback_pages": volume.cache.writebackPages,
                "cached": Self.bytes(volume.cache.cachedPages * Int64(PageState.pageSize)), "objects": volume.objectCount,
                "capacity": Self.bytes(volume.capacityBytes), "capacity_bytes": volume.capacityBytes,
                "admin": session.principal == .admin, "csrf": session.csrf,
                // Only for a volume that has had versioning (a template section: absent hides it).
                "versioning": volume.versioning == .off ? false : volume.versioning.rawValue, "noncurrent": Self.bytes(volume.noncurrentBytes),
                // Only while snapshots hold something.
                "snapshots": volume.snapshotBytes == 0 ? false : Self.bytes(volume.snapshotBytes),
            ]
        }
        let elsewhere: [[String: Any]] = (fleet?.volumesElsewhere() ?? []).filter { may(.read, $0.name, session) }.map { volume in
            [
                "name": volume.name, "node": volume.node ?? "no node now",
                "console": volume.console.map { "\($0)/ui/volumes/\(Self.segment(volume.name))/objects" } ?? false,
            ]
        }
        return render("Volumes", "volumes", ["volumes": rows, "elsewhere": elsewhere, "fleet": !elsewhere.isEmpty], session: session)
    }

    // MARK: devices

    func registerDevices(in router: inout Router) {
        router.add("GET", "/ui/devices") { request, _ in page(request, admin: true) { try devicesPage($0) } }
        router.add("POST", "/ui/devices") { request, _ in
            try changing(request, admin: true) { session, form in
                var body: [String: Any] = ["path": form["path"] ?? ""]
                if let label = form["label"], !label.isEmpty { body["label"] = label }
                if form["force"] == "true" { body["force"] = true }
                return respondTo(try callAPI("POST", "/v1/devices", body), session, done: "Device added.", back: "/ui/devices")
            }
        }
        router.add("POST", "/ui/devices/{id}/state") { request, context in
            try changing(request, admin: true) { session, form in
                let id = try context.parameter("id")
                let state = form["state"] ?? ""
                return respondTo(
                    try callAPI("PATCH", "/v1/devices/\(Self.segment(id))", ["state": state]), session, done: "Device set to \(state).",
                    back: "/ui/devices")
            }
        }
        router.add("POST", "/ui/devices/{id}/remove") { request, context in
            try changing(request, admin: true) { session, _ in
                let id = try context.parameter("id")
                return respondTo(try callAPI("DELETE", "/v1/devices/\(Self.segment(id))"), session, done: "Device removed.", back: "/ui/devices")
            }
        }
    }

    func devicesPage(_ session: ConsoleSessions.Session) throws -> HTTPResponse {
        let devices = try engine.listDevices()
        var moving = false
        let rows: [[String: Any]] = devices.map { device in
            let draining = device.state == .draining
            moving = moving || draining
            let total = device.movedBytes + device.remainingBytes
            return [
                "id": device.id, "name": device.label ?? device.id, "path": device.path, "state": device.state.rawValue,
                "used": Self.bytes(device.usedBytes), "capacity": Self.bytes(device.capacityBytes), "draining": draining,
                "percent": total > 0 ? Int(100 * device.movedBytes / total) : 100, "moved": Self.bytes(device.movedBytes),
                "remaining": Self.bytes(device.remainingBytes), "csrf": session.csrf,
                "states": ["active", "readonly", "draining"].map { ["value": $0, "selected": $0 == device.state.rawValue] as [String: Any] },
            ]
        }
        return render("Devices", "devices", ["devices": rows], session: session, refresh: moving ? 3 : nil)
    }

    // MARK: access keys

    func registerKeys(in router: inout Router) {
        router.add("GET", "/ui/keys") { request, _ in page(request, admin: true) { try keysPage($0, created: nil) } }
        router.add("POST", "/ui/keys") { request, _ in
            try changing(request, admin: true) { session, form in
                var permissions: [String: String] = [:]
                for (name, value) in form.fields where name.hasPrefix("perm:") && !value.isEmpty {
                    permissions[String(name.dropFirst("perm:".count))] = value
                }
                let body: [String: Any] = [
                    "name": form["name"] ?? "", "permissions": permissions, "create_buckets": form["create_buckets"] == "true",
                ]
                let answer = try callAPI("POST", "/v1/access-keys", body)
                guard answer.ok, let created = answer.json as? [String: Any], let id = created["access_key_id"] as? String,
                    let secret = created["secret_access_key"] as? String
                else { return respondTo(answer, session, done: "", back: "/ui/keys") }
                // The secret is in this answer only: never stored for a later page.
                sessions.setFlash(session.id, .init(text: "Access key \(id) created.", isError: false))
                return try keysPage(session, created: ["id": id, "secret": secret])
            }
        }
        router.add("POST", "/ui/keys/{id}/delete") { request, context in
            try changing(request, admin: true) { session, _ in
                let id = try context.parameter("id")
                let answer = try callAPI("DELETE", "/v1/access-keys/\(Self.segment(id))")
                if answer.ok { sessions.end(key: id) }
                return respondTo(answer, session, done: "Access key \(id) deleted.", back: "/ui/keys")
            }
        }
    }

    func keysPage(_ session: ConsoleSessions.Session, created: [String: String]?) throws -> HTTPResponse {
        let listed = try callAPI("GET", "/v1/access-keys")
        let all = ((listed.json as? [String: Any])?["access_keys"] as? [[String: Any]]) ?? []
        let rows: [[String: Any]] = all.map { key in
            let permissions = (key["permissions"] as? [String: String]) ?? [:]
            return [
                "id": key["access_key_id"] as? String ?? "", "name": key["name"] as? String ?? "",
                "permissions": permissions.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "),
                "created": key["created_at"] as? String ?? "", "csrf": session.csrf,
            ]
        }
        var data: [String: Any] = ["keys": rows, "volumes": try engine.listVolumes().map { ["name": $0.name] }]
        if let created { data["created"] = created }
        var response = render("Access keys", "keys", data, session: session)
        response.headers.append(("Cache-Control", "no-store"))
        return response
    }

    // MARK: activity

    func activityPage(_ session: ConsoleSessions.Session) -> HTTPResponse {
        let samples = activity.recent()
        func rates(_ value: (ActivityHistory.Sample) -> Int64) -> [Double] {
            zip(samples, samples.dropFirst()).map { a, b in
                let seconds = max(b.at - a.at, 0.001)
                return Double(max(value(b) - value(a), 0)) / seconds
            }
        }
        let requests = rates(\.requests)
        let read = rates(\.bytesRead)
        let written = rates(\.bytesWritten)
        let dirty = samples.map { Double($0.dirtyPages) }
        let reserved = samples.map { Double($0.reservedBytes) }
        func chart(_ title: String, _ series: [[Double]], _ format: (Double) -> String) -> [String: Any] {
            let all = series.flatMap { $0 }
            return ["title": title, "svg": SVGChart.render(series, label: title), "now": format(series[0].last ?? 0), "peak": format(all.max() ?? 0)]
        }
        let charts = [
            chart("Requests per second", [requests]) { String(format: "%.1f/s", $0) },
            chart("Throughput: read (blue), written (orange)", [read, written]) { Self.bytes(Int64($0)) + "/s" },
            chart("Dirty pages", [dirty]) { String(Int64($0)) },
            chart("Reserved bytes", [reserved]) { Self.bytes(Int64($0)) },
        ]
        return render("Activity", "activity", ["charts": charts, "interval": Int(activity.interval)], session: session, refresh: 30)
    }
}
