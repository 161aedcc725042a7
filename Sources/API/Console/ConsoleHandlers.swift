// The web console (`/ui/` on the admin listener): server-rendered pages over the same API a curl
// user has. Reads come from the engine; every change is made by calling the admin API in process
// (`api`, the listener's own routes without its metrics), so the console validates, refuses and
// words its errors exactly as the API does. A session is the admin (every page) or an access key
// (volumes it may read, objects as its permissions allow: the rule S3 applies). Every page is
// HTML with a strict Content-Security-Policy; every form that changes something carries the
// session's CSRF token, and a POST without it changes nothing.
import Engine
import Fleet
import Foundation
import Logging

package struct ConsoleSettings: Sendable {
    /// Under TLS the session cookie is `Secure`.
    package var tls: Bool
    /// The S3 listener's port, for share links (nil: S3 is off, no share links). Asked when a
    /// link is made: the listener may start after the console (and pick its port then).
    package var s3Port: @Sendable () -> UInt16?
    package var region: String
    package var idleMinutes: Int

    package init(tls: Bool, s3Port: @escaping @Sendable () -> UInt16?, region: String, idleMinutes: Int = 30) {
        self.tls = tls
        self.s3Port = s3Port
        self.region = region
        self.idleMinutes = idleMinutes
    }
}

struct ConsoleHandlers: Sendable {
    let engine: Engine
    let keys: AccessKeyStore
    let token: String
    let api: Router
    let sessions: ConsoleSessions
    let activity: ActivityHistory
    let settings: ConsoleSettings
    /// In a fleet: other nodes' volumes are listed with a link to their node's console.
    var fleet: FleetRouting? = nil
    /// The S3 listing (folders by prefix) is S3's own walk.
    var s3: S3Handlers { S3Handlers(engine: engine, keys: keys, settings: S3Settings(region: settings.region)) }

    static let securityHeaders: [(name: String, value: String)] = [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
        ("X-Frame-Options", "DENY"), ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-store"),
    ]

    func register(in router: inout Router) {
        router.add("GET", "/ui") { _, _ in Self.redirect("/ui/") }
        router.add("GET", "/ui/static/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        router.add("GET", "/ui/static/console.js") { _, _ in Self.asset(ConsoleAssets.js, type: "text/javascript; charset=utf-8") }
        router.add("GET", "/ui/login") { request, _ in loginPage(request, error: nil) }
        router.add("POST", "/ui/login") { request, _ in try login(request) }
        router.add("POST", "/ui/logout") { request, _ in try changing(request, admin: false) { session, _ in logout(session) } }
        router.add("GET", "/ui/") { request, _ in page(request, admin: false) { try overview($0) } }
        router.add("POST", "/ui/scrub") { request, _ in
            try changing(request, admin: true) { session, _ in
                respondTo(try callAPI("POST", "/v1/pool/scrub"), session, done: "Scrub started.", back: "/ui/")
            }
        }
        registerVolumes(in: &router)
        registerObjects(in: &router)
        registerDevices(in: &router)
        registerKeys(in: &router)
        router.add("GET", "/ui/activity") { request, _ in page(request, admin: true) { activityPage($0) } }
    }

    // MARK: sessions and pages

    /// A page for a live session (a login form otherwise); `admin`: key sessions get a 403 page.
    func page(_ request: HTTPRequest, admin: Bool, _ body: (ConsoleSessions.Session) throws -> HTTPResponse) -> HTTPResponse {
        guard let session = sessions.session(for: request) else { return Self.redirect("/ui/login") }
        if admin, session.principal != .admin {
            return render(
                "Not allowed", "message", ["text": "This page is for the administrator: log in with the admin token."], session: session, status: 403)
        }
        do {
            return try body(session)
        } catch {
            // The API's status and words for the same error (a volume that does not exist is a 404 page).
            let (status, _, title, detail, _) = ErrorMapping.classify(error)
            return render(title, "message", ["text": detail, "back": "/ui/"], session: session, status: status)
        }
    }

    /// A form that changes something: a live session, its CSRF token, then `change` (which answers
    /// with a redirect and a flash). Refused with 403 and nothing changed otherwise.
    func changing(
        _ request: HTTPRequest, admin: Bool, _ change: (ConsoleSessions.Session, ConsoleForm) throws -> HTTPResponse
    ) throws -> HTTPResponse {
        let form = try ConsoleForm(request.body)
        guard let session = sessions.session(for: request) else {
            return Self.plain(403, "Your session has ended: log in again.")
        }
        guard let given = form["csrf"], AuthMiddleware.constantTimeEqual(Array(given.utf8), Array(session.csrf.utf8)) else {
            return render(
                "Refused", "message", ["text": "The form was refused: its CSRF token is missing or wrong. Nothing was changed.", "back": "/ui/"],
                session: session, status: 403)
        }
        if admin, session.principal != .admin {
            return render("Not allowed", "message", ["text": "Only the administrator may do this."], session: session, status: 403)
        }
        return try change(session, form)
    }

    /// A page in the layout; `error` is a message for a page without a session (the login form's).
    func render(
        _ title: String, _ template: String, _ data: [String: Any], session: ConsoleSessions.Session?, status: Int = 200, refresh: Int? = nil,
        error: String? = nil
    ) -> HTTPResponse {
        var data = data
        var layout: [String: Any] = ["title": title]
        if let session {
            data["csrf"] = session.csrf
            data["admin"] = session.principal == .admin
            layout["signed_in"] = true
            layout["csrf"] = session.csrf
            switch session.principal {
            case .admin: layout["who"] = "admin"
            case .key(let id): layout["who"] = "key \(id)"
            }
            let pages: [(String, String, Bool)] = [
                ("/ui/", "Overview", false), ("/ui/volumes", "Volumes", false), ("/ui/devices", "Devices", true), ("/ui/keys", "Access keys", true),
                ("/ui/activity", "Activity", true),
            ]
            layout["nav"] = pages.filter { !$0.2 || session.principal == .admin }.map { href, label, _ in
                ["href": href, "label": label, "current": href == currentPage(title)] as [String: Any]
            }
            if let flash = sessions.takeFlash(session.id) { layout["flash"] = ["text": flash.text, "isError": flash.isError] as [String: Any] }
        }
        if let error { layout["flash"] = ["text": error, "isError": true] as [String: Any] }
        if let refresh { layout["refresh"] = refresh }
        layout["body"] = ConsoleTemplates.render(template, data)
        return Self.html(ConsoleTemplates.render("layout", layout), status: status)
    }

    private func currentPage(_ title: String) -> String {
        switch title {
        case "Overview": "/ui/"
        case "Volumes",
            _ where title.hasPrefix("Volume "), "Share link":
            "/ui/volumes"
        case "Devices": "/ui/devices"
        case "Access keys": "/ui/keys"
        case "Activity": "/ui/activity"
        default: ""
        }
    }

    // MARK: login

    func loginPage(_ request: HTTPRequest, error: String?, status: Int = 200) -> HTTPResponse {
        if error == nil, sessions.session(for: request) != nil { return Self.redirect("/ui/") }
        let nonce = ConsoleSessions.randomToken()
        var response = render("Log in", "login", ["csrf": nonce], session: nil, status: status, error: error)
        response.headers.append(("Set-Cookie", sessions.cookieHeader(ConsoleSessions.loginCookieName, nonce)))
        return response
    }

    func login(_ request: HTTPRequest) throws -> HTTPResponse {
        let form = try ConsoleForm(request.body)
        // Double submit: the form's token must be the one its page set in a cookie.
        guard let given = form["csrf"], let expected = ConsoleSessions.cookie(ConsoleSessions.loginCookieName, in: request),
            !expected.isEmpty, AuthMiddleware.constantTimeEqual(Array(given.utf8), Array(expected.utf8))
        else { return loginPage(request, error: "The login form was refused (its CSRF token is missing or wrong): try again.", status: 403) }
        let principal: ConsoleSessions.Principal
        if let presented = form["token"], !presented.isEmpty {
            guard AuthMiddleware.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
                return loginPage(request, error: "Wrong token.", status: 401)
            }
            principal = .admin
        } else if let id = form["access_key"], !id.isEmpty, let secret = form["secret"] {
            guard let key = keys.key(id: id) ?? keys.lookUp(id: id), AuthMiddleware.constantTimeEqual(Array(secret.utf8), Array(key.secret.utf8))
            else {
                return loginPage(request, error: "Wrong access key or secret.", status: 401)
            }
            principal = .key(id: key.id)
        } else {
            return loginPage(request, error: "Give the admin token, or an access key and its secret.", status: 400)
        }
        let session = sessions.create(principal)
        var response = Self.redirect("/ui/")
        response.headers.append(("Set-Cookie", sessions.cookieHeader(ConsoleSessions.cookieName, session.id)))
        response.headers.append(("Set-Cookie", sessions.cookieHeader(ConsoleSessions.loginCookieName, "")))
        return response
    }

    func logout(_ session: ConsoleSessions.Session) -> HTTPResponse {
        sessions.end(session.id)
        var response = Self.redirect("/ui/login")
        response.headers.append(("Set-Cookie", sessions.cookieHeader(ConsoleSessions.cookieName, "")))
        return response
    }

    // MARK: the API in process

    struct APIAnswer {
        var status: Int
        var json: Any?
        /// The problem's detail (or title) when the API refused.
        var problem: String?
        var ok: Bool { (200..<300).contains(status) }
    }

    func callAPI(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> APIAnswer {
        var headers = ["authorization": "Bearer \(token)"]
        var bytes: [UInt8] = []
        if let body {
            bytes = Array(try JSONSerialization.data(withJSONObject: body))
            headers["content-type"] = "application/json"
        }
        let context = RequestContext(requestID: "console", logger: Logger(label: "console", factory: { _ in SwiftLogNoOpLogHandler() }))
        // `path?name=value&...`: the query travels apart from the path, as MHD hands it over.
        let parts = path.split(separator: "?", maxSplits: 1)
        let query: [(name: String, value: String?)] = (parts.count > 1 ? parts[1].split(separator: "&") : []).map { pair in
            let field = pair.split(separator: "=", maxSplits: 1)
            return (String(field[0]), field.count > 1 ? String(field[1]) : nil)
        }
        let request = HTTPRequest(method: method, path: String(parts[0]), query: query, headers: headers, body: bytes)
        let response = api.respond(to: request, context: context)
        let json = response.body.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(response.body))
        var problem: String?
        if !(200..<300).contains(response.status) {
            let object = json as? [String: Any]
            problem = (object?["detail"] as? String) ?? (object?["title"] as? String) ?? "HTTP \(response.status)"
        }
        return APIAnswer(status: response.status, json: json, problem: problem)
    }

    /// After a change through the API: back to `back` with what happened (the API's own words when refused).
    func respondTo(_ answer: APIAnswer, _ session: ConsoleSessions.Session, done: String, back: String) -> HTTPResponse {
        sessions.setFlash(session.id, answer.ok ? .init(text: done, isError: false) : .init(text: answer.problem ?? "refused", isError: true))
        return Self.redirect(back)
    }

    // MARK: responses

    static func html(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/html; charset=utf-8")] + securityHeaders, body: Array(text.utf8))
    }

    static func plain(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + securityHeaders, body: Array((text + "\n").utf8))
    }

    static func redirect(_ location: String) -> HTTPResponse {
        HTTPResponse(status: 303, headers: [("Location", location)] + securityHeaders)
    }

    static func asset(_ text: String, type: String) -> HTTPResponse {
        HTTPResponse(
            status: 200, headers: [("Content-Type", type), ("Cache-Control", "max-age=300"), ("X-Content-Type-Options", "nosniff")],
            body: Array(text.utf8))
    }

    /// 1.5 GiB, 300 KiB, 12 B.
    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var amount = Double(value)
        var unit = 0
        while abs(amount) >= 1024, unit < units.count - 1 {
            amount /= 1024
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: amount < 10 ? "%.2f" : "%.1f", amount) + " " + units[unit]
    }

    /// A path segment for a name (a volume, a device id) in a console or API URL.
    static func segment(_ name: String) -> String { SigV4.uriEncode(name) }
}
