import Foundation
import Testing

// The console's pieces that need no browser: share links signed as AWS signs them, form bodies,
// sessions (idle expiry, cookies, the bound), and chart labels escaped.
@testable import API

@Suite struct ConsoleTests {
    @Test func aShareLinkIsSignedAsAWSSignsAPresignedGet() throws {
        // AWS's documented example (SigV4Vectors.json, "presigned-get-object").
        let url = PresignedURL.sign(
            endpoint: "https://examplebucket.s3.amazonaws.com", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
            accessKeyID: "AKIAIOSFODNN7EXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1", expires: 86_400,
            now: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(
            url
                == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        )
        // Path style with a key that needs escaping: the bucket and each segment encoded, slashes kept.
        let shared = try #require(
            PresignedURL.get(
                endpoint: "http://h:9000", host: "h:9000", bucket: "photos", key: "a b/ü.jpg", accessKeyID: "AK", secret: "s", region: "us-east-1",
                expires: 60))
        #expect(shared.hasPrefix("http://h:9000/photos/a%20b/%C3%BC.jpg?X-Amz-Algorithm="))
    }

    @Test func formBodiesDecodeAsBrowsersEncodeThem() throws {
        let form = try ConsoleForm(Array("csrf=abc&name=a+b%2Fc&empty=&bare&perm%3Aphotos=read&name=last".utf8))
        #expect(form["csrf"] == "abc")
        #expect(form["name"] == "last")
        #expect(form.all("name") == ["a b/c", "last"])
        #expect(form["empty"] == "" && form["bare"] == "")
        #expect(form["perm:photos"] == "read")
        #expect(form["missing"] == nil)
        #expect(throws: HTTPError.self) { try ConsoleForm(Array("a=%zz".utf8)) }
        #expect(throws: HTTPError.self) { try ConsoleForm([0x61, 0x3D, 0xFF]) }
        #expect(try ConsoleForm([]).fields.isEmpty)
    }

    @Test func aSessionEndsAfterItsIdleTimeAndOnLogout() throws {
        let sessions = ConsoleSessions(idle: .seconds(2), secureCookies: false)
        let session = sessions.create(.admin)
        func request(_ cookie: String) -> HTTPRequest { HTTPRequest(method: "GET", path: "/ui/", headers: ["cookie": cookie]) }
        #expect(sessions.session(for: request("a=1; \(ConsoleSessions.cookieName)=\(session.id); b=2"))?.principal == .admin)
        #expect(sessions.session(for: request("\(ConsoleSessions.cookieName)=\(session.id)x")) == nil)
        #expect(sessions.session(for: request("other=\(session.id)")) == nil)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(sessions.session(for: request("\(ConsoleSessions.cookieName)=\(session.id)")) != nil, "use restarts the idle clock")
        Thread.sleep(forTimeInterval: 2.5)
        #expect(sessions.session(for: request("\(ConsoleSessions.cookieName)=\(session.id)")) == nil, "idle past its time")
        let other = sessions.create(.key(id: "AK1"))
        sessions.end(key: "AK1")
        #expect(sessions.session(for: request("\(ConsoleSessions.cookieName)=\(other.id)")) == nil, "a deleted key's sessions end")
        let third = sessions.create(.admin)
        sessions.end(third.id)
        #expect(sessions.session(for: request("\(ConsoleSessions.cookieName)=\(third.id)")) == nil, "logged out")
        #expect(session.csrf != session.id && session.csrf.count == 64)
    }

    @Test func cookiesAreHttpOnlyStrictAndSecureUnderTLS() {
        let plain = ConsoleSessions(secureCookies: false).cookieHeader(ConsoleSessions.cookieName, "v")
        #expect(plain == "appliance_session=v; Path=/ui/; HttpOnly; SameSite=Strict")
        let secure = ConsoleSessions(secureCookies: true).cookieHeader(ConsoleSessions.cookieName, "")
        #expect(secure == "appliance_session=; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age=0; Secure")
    }

    @Test func theSessionsAreBoundedTheLongestIdleGoesFirst() {
        let sessions = ConsoleSessions(secureCookies: false)
        let first = sessions.create(.admin)
        for _ in 1..<ConsoleSessions.maxSessions { _ = sessions.create(.admin) }
        let request = HTTPRequest(method: "GET", path: "/ui/", headers: ["cookie": "\(ConsoleSessions.cookieName)=\(first.id)"])
        #expect(sessions.session(for: request) != nil)
        _ = sessions.create(.admin)  // past the bound: the one idle longest (not `first`, just used) makes room
        #expect(sessions.session(for: request) != nil)
    }

    @Test func chartLabelsAreEscaped() {
        let svg = SVGChart.render([[1, 2, 3]], label: "<img src=x onerror=alert(1)>")
        #expect(!svg.contains("<img") && svg.contains("&lt;img"))
        #expect(svg.contains("<polyline"))
    }

    @Test func byteFiguresReadAsPeopleWriteThem() {
        #expect(ConsoleHandlers.bytes(0) == "0 B")
        #expect(ConsoleHandlers.bytes(1023) == "1023 B")
        #expect(ConsoleHandlers.bytes(1536) == "1.50 KiB")
        #expect(ConsoleHandlers.bytes(500 << 20) == "500.0 MiB")
        #expect(ConsoleHandlers.bytes(3 << 40) == "3.00 TiB")
    }
}
