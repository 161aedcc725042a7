// The console's object browser: folders by prefix (S3's own listing walk, delimiter "/"), pages
// of 100, upload (the page's script streams the file to PUT .../upload/{key}; the body goes to the
// native upload path unbuffered, reserved before the first byte), download (the native GET),
// delete, and a share link (a presigned S3 URL with an expiry). A key session may do each only as
// its permissions on the volume allow.
import Engine
import Foundation

extension ConsoleHandlers {
    static let pageSize = 100

    func registerObjects(in router: inout Router) {
        router.add("GET", "/ui/volumes/{name}/objects") { request, context in
            page(request, admin: false) { try browse(request, volume: try context.parameter("name"), session: $0) }
        }
        // Inline, as the native routes: the session check is a lookup; the sink opens on a worker when it must.
        router.addStreaming("PUT", "/ui/volumes/{name}/upload/{key...}", inline: true) { request, context in
            let session = try uploadSession(request, context)
            guard may(.write, try context.parameter("name"), session) else {
                throw HTTPError.forbidden("this access key may not write volume \(try context.parameter("name"))")
            }
            return try ObjectHandlers.openUpload(engine, request, context)
        }
        router.add("GET", "/ui/volumes/{name}/download/{key...}", inline: true) { request, context in
            guard let session = sessions.session(for: request) else { return Self.redirect("/ui/login") }
            let volume = try context.parameter("name")
            guard may(.read, volume, session) else { throw HTTPError.forbidden("this access key may not read volume \(volume)") }
            var response = try ObjectHandlers.get(engine, request, context)
            let name = try context.parameter("key").split(separator: "/").last.map(String.init) ?? "download"
            response.headers.append(("Content-Disposition", "attachment; filename*=UTF-8''\(SigV4.uriEncode(name))"))
            response.headers.append(("X-Content-Type-Options", "nosniff"))
            response.headers.append(("Content-Security-Policy", "default-src 'none'; sandbox"))
            return response
        }
        router.add("POST", "/ui/volumes/{name}/objects/delete") { request, context in
            try changing(request, admin: false) { session, form in
                let volume = try context.parameter("name")
                let key = form["key"] ?? ""
                let back = "/ui/volumes/\(Self.segment(volume))/objects?prefix=\(SigV4.uriEncode(form["prefix"] ?? ""))"
                guard may(.write, volume, session) else {
                    sessions.setFlash(session.id, .init(text: "This access key may not delete in \(volume).", isError: true))
                    return Self.redirect(back)
                }
                return respondTo(
                    try callAPI("DELETE", "/v1/volumes/\(Self.segment(volume))/objects/\(SigV4.uriEncode(key, encodeSlash: false))"), session,
                    done: "Deleted \(key).", back: back)
            }
        }
        router.add("POST", "/ui/volumes/{name}/objects/share") { request, context in
            try changing(request, admin: false) { session, form in
                try share(request, volume: try context.parameter("name"), form: form, session: session)
            }
        }
    }

    /// The upload's session: a live one, and the CSRF token in `X-CSRF-Token` (a script's request).
    func uploadSession(_ request: HTTPRequest, _ context: RequestContext) throws -> ConsoleSessions.Session {
        guard let session = sessions.session(for: request) else { throw HTTPError.unauthorized("log in to the console first") }
        guard let given = request.header("x-csrf-token"), AuthMiddleware.constantTimeEqual(Array(given.utf8), Array(session.csrf.utf8)) else {
            throw HTTPError.forbidden("the upload's CSRF token is missing or wrong")
        }
        return session
    }

    func browse(_ request: HTTPRequest, volume: String, session: ConsoleSessions.Session) throws -> HTTPResponse {
        guard may(.read, volume, session) else {
            return render("Not allowed", "message", ["text": "This access key may not read volume \(volume)."], session: session, status: 403)
        }
        _ = try engine.volume(named: volume)
        func query(_ name: String) -> String? {
            request.query.last { $0.name == name }.flatMap { $0.value }.flatMap { PercentDecoding.decode($0, plusIsSpace: true) }
        }
        let prefix = query("prefix") ?? ""
        let after = query("after").flatMap { $0.isEmpty ? nil : $0 }
        let listing = try s3.collect(bucket: volume, prefix: prefix, delimiter: "/", after: after, limit: Self.pageSize)
        var folders: [[String: Any]] = []
        var objects: [[String: Any]] = []
        let path = Self.segment(volume)
        let writable = may(.write, volume, session)
        for entry in listing.entries {
            switch entry {
            case .prefix(let common):
                folders.append([
                    "name": String(common.dropFirst(prefix.count)), "prefix_query": SigV4.uriEncode(common), "volume_path": path,
                ])
            case .object(let object):
                objects.append([
                    "name": String(object.key.dropFirst(prefix.count)), "key": object.key,
                    "key_path": SigV4.uriEncode(object.key, encodeSlash: false),
                    "size": Self.bytes(object.size), "modified": object.modifiedAt.formatted(.iso8601), "volume_path": path, "csrf": session.csrf,
                    "writable": writable, "prefix": prefix,
                ])
            }
        }
        // Breadcrumbs: each folder of the prefix.
        var crumbs: [[String: Any]] = []
        var walked = ""
        for part in prefix.split(separator: "/", omittingEmptySubsequences: false).dropLast() {
            walked += part + "/"
            crumbs.append(["name": String(part), "prefix_query": SigV4.uriEncode(walked), "volume_path": path])
        }
        var data: [String: Any] = [
            "volume": volume, "volume_path": path, "prefix": prefix, "prefix_query": SigV4.uriEncode(prefix), "crumbs": crumbs, "folders": folders,
            "objects": objects, "writable": writable,
        ]
        if listing.truncated, let next = listing.next { data["next"] = SigV4.uriEncode(next) }
        if prefix.isEmpty { data.removeValue(forKey: "prefix") }
        return render("Volume \(volume)", "objects", data, session: session)
    }

    func share(_ request: HTTPRequest, volume: String, form: ConsoleForm, session: ConsoleSessions.Session) throws -> HTTPResponse {
        let key = form["key"] ?? ""
        let prefix = key.contains("/") ? String(key[...key.lastIndex(of: "/")!]) : ""
        let back = "/ui/volumes/\(Self.segment(volume))/objects?prefix=\(SigV4.uriEncode(prefix))"
        func refuse(_ text: String) -> HTTPResponse {
            sessions.setFlash(session.id, .init(text: text, isError: true))
            return Self.redirect(back)
        }
        guard let port = settings.s3Port() else { return refuse("Share links need the S3 endpoint, and it is off (--s3-listen off).") }
        guard let expires = Int(form["expires"] ?? ""), (1...PresignedURL.maxExpiry).contains(expires) else {
            return refuse("A share link lasts from 1 second to 7 days.")
        }
        guard may(.read, volume, session) else { return refuse("This access key may not read \(volume).") }
        do {
            try engine.openObject(volume: volume, key: key).close()
        } catch {
            return refuse("No object \(key) in \(volume): \(ErrorMapping.classify(error).3)")
        }
        // Signed by the session's own key, or for the admin by a read-only key kept for share links.
        let signer: AccessKey
        switch session.principal {
        case .key(let id):
            guard let key = keys.key(id: id) else { return refuse("This access key no longer exists.") }
            signer = key
        case .admin:
            signer = try shareKey()
        }
        // The host the browser used for the console, with the S3 listener's port.
        let hostHeader = request.header("host") ?? "127.0.0.1"
        let hostname: Substring =
            hostHeader.hasPrefix("[")
            ? hostHeader[...(hostHeader.firstIndex(of: "]") ?? hostHeader.index(before: hostHeader.endIndex))]
            : hostHeader.split(separator: ":").first ?? "127.0.0.1"
        let host = "\(hostname):\(port)"
        guard
            let url = PresignedURL.get(
                endpoint: "\(settings.tls ? "https" : "http")://\(host)", host: host, bucket: volume, key: key, accessKeyID: signer.id,
                secret: signer.secret, region: settings.region, expires: expires)
        else { return refuse("The link could not be signed.") }
        let data: [String: Any] = [
            "url": url, "key": key, "volume": volume, "volume_path": Self.segment(volume), "prefix_query": SigV4.uriEncode(prefix),
            "expires": Date().addingTimeInterval(Double(expires)).formatted(.iso8601),
        ]
        return render("Share link", "share", data, session: session)
    }

    /// The key the admin's share links are signed with: read-only on every volume, made on first use.
    func shareKey() throws -> AccessKey {
        let name = "console share links"
        if let existing = keys.all.first(where: { $0.name == name && $0.permissions == [AccessKeyStore.wildcard: .read] }) { return existing }
        return try keys.create(name: name, permissions: [AccessKeyStore.wildcard: .read], createBuckets: false)
    }
}
