// What /metrics reveals and who may read it: devices by id and label (never a host path), and the
// bearer token required with --metrics-auth on, the default when the admin API listens beyond loopback.
import Foundation
import Testing

@Suite struct MetricsAuthEndToEndTests {
    @Test func devicesAreLabelledByIdAndLabelNotByPath() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        defer { app.stop() }
        let metrics = try await app.request("GET", "/metrics", auth: false)
        #expect(metrics.status == 200, "on loopback /metrics stays open by default")
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        for device in devices {
            let id = try #require(device["id"] as? String)
            let label = try #require(device["label"] as? String)
            #expect(
                metrics.text.contains("appliance_device_used_bytes{device=\"\(id)\",label=\"\(label)\"}")
                    || metrics.text.contains("appliance_device_used_bytes{label=\"\(label)\",device=\"\(id)\"}"), "\(id) \(label)")
            let path = try #require(device["path"] as? String)
            #expect(!metrics.text.contains(path))
        }
        #expect(!metrics.text.contains("path=\""))
        #expect(!metrics.text.contains(app.dataDir.lastPathComponent))
    }

    static func expectGuarded(_ app: ApplianceProcess) async throws {
        let refused = try await app.request("GET", "/metrics", auth: false)
        #expect(refused.status == 401)
        #expect(refused.header("WWW-Authenticate") == "Bearer realm=\"appliance\"")
        #expect(!refused.text.contains("appliance_pool"))
        let wrong = try await app.request("GET", "/metrics", auth: false, headers: ["Authorization": "Bearer not-the-token-at-all"])
        #expect(wrong.status == 401)
        let allowed = try await app.request("GET", "/metrics")
        #expect(allowed.status == 200)
        #expect(allowed.text.contains("appliance_pool_capacity_bytes "))
        #expect(try await app.request("GET", "/healthz", auth: false).status == 200)
    }

    @Test func metricsAuthOnNeedsTheToken() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--metrics-auth", "on"])
        defer { app.stop() }
        try await Self.expectGuarded(app)
    }

    @Test func beyondLoopbackTheTokenIsNeededByDefault() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--listen", "0.0.0.0:0"])
        defer { app.stop() }
        try await Self.expectGuarded(app)
    }

    @Test func metricsAuthOffOpensItBeyondLoopback() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--listen", "0.0.0.0:0", "--metrics-auth", "off"])
        defer { app.stop() }
        #expect(try await app.request("GET", "/metrics", auth: false).status == 200)
    }
}
