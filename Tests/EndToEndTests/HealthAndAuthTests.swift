// /healthz, bearer auth, the token file, routing errors and body limits against the real binary.
import Foundation
import Testing

@Suite struct HealthAndAuthTests {
    @Test func healthNeedsNoAuth() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let response = try await app.request("GET", "/healthz", auth: false)
        #expect(response.status == 200)
        #expect(response.json["status"] as? String == "ok")
    }

    @Test func v1RoutesNeedTheBearerToken() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let missing = try await app.request("GET", "/v1/pool", auth: false)
        #expect(missing.status == 401)
        #expect(missing.header("Content-Type") == "application/problem+json")
        #expect(missing.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
        let wrong = try await app.request("GET", "/v1/pool", auth: false, headers: ["Authorization": "Bearer \(app.token)x"])
        #expect(wrong.status == 401)
        let truncated = try await app.request("GET", "/v1/pool", auth: false, headers: ["Authorization": "Bearer \(app.token.dropLast())"])
        #expect(truncated.status == 401)
        let good = try await app.request("GET", "/v1/pool")
        #expect(good.status == 200)
    }

    @Test func generatedTokenFileIsPrivateAndNeverLogged() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let attributes = try FileManager.default.attributesOfItem(atPath: app.dataDir.appendingPathComponent("token").path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(app.token.count == 64)
    }

    @Test func tokenFromFlagIsUsed() async throws {
        let token = "flag-token-0123456789abcdef"
        let app = try ApplianceProcess(extraArguments: ["--token", token])
        defer { app.stop() }
        let response = try await app.request("GET", "/v1/pool", auth: false, headers: ["Authorization": "Bearer \(token)"])
        #expect(response.status == 200)
        #expect(!FileManager.default.fileExists(atPath: app.dataDir.appendingPathComponent("token").path))
    }

    @Test func unknownRouteIs404AndWrongMethodIs405WithAllow() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let missing = try await app.request("GET", "/v1/nothing-here")
        #expect(missing.status == 404)
        #expect(missing.json["status"] as? Int == 404)
        let wrongMethod = try await app.request("PUT", "/v1/volumes", json: [:])
        #expect(wrongMethod.status == 405)
        let allow = Set((wrongMethod.header("Allow") ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(allow.isSuperset(of: ["GET", "POST"]))
    }

    @Test func bodiesOverOneMebibyteGet413AndChangeNothing() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        var big = Data("{\"name\":\"big-one\",\"capacity_bytes\":1000,\"pad\":\"".utf8)
        big.append(Data(repeating: UInt8(ascii: "a"), count: (1 << 20) + 10))
        big.append(Data("\"}".utf8))
        let response = try await app.request("POST", "/v1/volumes", body: big, headers: ["Content-Type": "application/json"])
        #expect(response.status == 413)
        #expect(try await app.request("GET", "/v1/volumes/big-one").status == 404)
    }

    @Test func metricsExposePoolDeviceVolumeAndHTTPFamilies() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        _ = try await app.request("POST", "/v1/volumes", json: ["name": "metered", "capacity_bytes": 4096])
        let metrics = try await app.request("GET", "/metrics", auth: false)
        #expect(metrics.status == 200)
        #expect(metrics.header("Content-Type")?.hasPrefix("text/plain") == true)
        for family in [
            "appliance_pool_capacity_bytes ", "appliance_pool_free_bytes ", "appliance_pool_reserved_bytes ",
            "appliance_device_capacity_bytes{", "appliance_device_used_bytes{", "appliance_device_state{",
            "appliance_volume_capacity_bytes{volume=\"metered\"}", "appliance_volume_reserved_bytes{volume=\"metered\"}",
            "appliance_http_requests_total{", "appliance_http_request_duration_seconds_bucket{",
        ] {
            #expect(metrics.text.contains(family), "missing \(family)")
        }
        #expect(metrics.text.contains("route=\"/v1/volumes\""))
        #expect(!metrics.text.contains(app.token))
    }

    /// A request without the right token is refused from its head: its body is dropped as it
    /// arrives, never buffered (with 10,000 connections, buffering up to 1 MiB each before the 401
    /// could pin 10 GiB). Even a body over the 1 MiB JSON limit gets the 401, not a 413.
    @Test func anUnauthenticatedBodyIsRefusedWithoutBeingBuffered() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let connection = try RawConnection(port: app.baseURL.port!)
        let body = Data(repeating: 0x7B, count: 2 << 20)
        try connection.sendHead(
            "POST", "/v1/volumes", token: "not-the-token-at-all", headers: ["Content-Length: \(body.count)", "Content-Type: application/json"])
        try connection.send(body)
        let answer = connection.receive()
        #expect(answer.hasPrefix("HTTP/1.1 401"), "\(answer.prefix(200))")
        // The connection carries the next request.
        try connection.sendHead("GET", "/healthz")
        #expect(connection.receive().hasPrefix("HTTP/1.1 200"))
        // With the token, the same oversized body is a 413 as before.
        #expect(try await app.request("POST", "/v1/volumes", body: body).status == 413)
        #expect(try await app.request("GET", "/v1/volumes").json["volumes"] as? [Any] != nil)
    }
}
