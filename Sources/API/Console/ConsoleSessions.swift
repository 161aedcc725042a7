// The console's sessions: who logged in (the admin token, or an access key with its permissions),
// the CSRF token every state-changing form and upload must carry, and the idle expiry. In memory
// only (a restart logs everyone out), bounded in number. The session id travels in a cookie that
// is HttpOnly, SameSite=Strict, scoped to /ui/, and Secure under TLS.
import Foundation
import Synchronization

final class ConsoleSessions: Sendable {
    static let cookieName = "appliance_session"
    /// The login form's double-submit token (before a session exists).
    static let loginCookieName = "appliance_login"
    static let maxSessions = 10_000

    enum Principal: Sendable, Equatable {
        case admin
        case key(id: String)
    }

    struct Session: Sendable {
        let id: String
        let csrf: String
        let principal: Principal
        var lastSeen: ContinuousClock.Instant
        /// One message for the next page (what the last form did, or why it was refused).
        var flash: Flash?
    }

    struct Flash: Sendable {
        var text: String
        var isError: Bool
    }

    let idle: Duration
    let secureCookies: Bool
    private let sessions = Mutex<[String: Session]>([:])

    init(idle: Duration = .seconds(30 * 60), secureCookies: Bool) {
        self.idle = idle
        self.secureCookies = secureCookies
    }

    func create(_ principal: Principal) -> Session {
        let session = Session(id: Self.randomToken(), csrf: Self.randomToken(), principal: principal, lastSeen: .now, flash: nil)
        sessions.withLock { all in
            if all.count >= Self.maxSessions {
                // The one idle longest makes room.
                if let oldest = all.min(by: { $0.value.lastSeen < $1.value.lastSeen })?.key { all.removeValue(forKey: oldest) }
            }
            all[session.id] = session
        }
        return session
    }

    /// The live session the request's cookie names (its idle clock restarted), or nil.
    func session(for request: HTTPRequest) -> Session? {
        guard let id = Self.cookie(Self.cookieName, in: request) else { return nil }
        let now = ContinuousClock.now
        return sessions.withLock { all in
            guard var session = all[id] else { return nil }
            guard now - session.lastSeen <= idle else {
                all.removeValue(forKey: id)
                return nil
            }
            session.lastSeen = now
            all[id] = session
            return session
        }
    }

    func end(_ id: String) { _ = sessions.withLock { $0.removeValue(forKey: id) } }

    /// Ends every session of an access key (it was deleted).
    func end(key id: String) { sessions.withLock { all in all = all.filter { $0.value.principal != .key(id: id) } } }

    func setFlash(_ id: String, _ flash: Flash) { sessions.withLock { $0[id]?.flash = flash } }

    func takeFlash(_ id: String) -> Flash? {
        sessions.withLock { all in
            let flash = all[id]?.flash
            all[id]?.flash = nil
            return flash
        }
    }

    /// The Set-Cookie value for `name` (an empty value and Max-Age=0 clears it).
    func cookieHeader(_ name: String, _ value: String) -> String {
        var text = "\(name)=\(value); Path=/ui/; HttpOnly; SameSite=Strict"
        if value.isEmpty { text += "; Max-Age=0" }
        if secureCookies { text += "; Secure" }
        return text
    }

    /// The value of cookie `name` in the request's Cookie header.
    static func cookie(_ name: String, in request: HTTPRequest) -> String? {
        guard let header = request.header("cookie") else { return nil }
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard let equals = pair.firstIndex(of: "=") else { continue }
            if pair[..<equals] == name { return String(pair[pair.index(after: equals)...]) }
        }
        return nil
    }

    /// 32 random bytes, hex.
    static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return bytes.withUnsafeBytes { SigV4.hex($0) }
    }
}
