// SIGTERM exits 0 and everything the API showed survives a restart exactly.
import Foundation
import Testing

@Suite struct RestartTests {
    @Test func stateSurvivesARestartExactly() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }

        let first = try ApplianceProcess(dataDir: dataDir)
        let extra = try ApplianceProcess.sparseFile(size: 96 << 20, in: scratch)
        let added = try await first.request("POST", "/v1/devices", json: ["path": extra.path, "label": "third"])
        #expect(added.status == 201)
        let id = try #require(added.json["id"] as? String)
        #expect(try await first.request("PATCH", "/v1/devices/\(id)", json: ["state": "readonly"]).status == 200)
        #expect(
            try await first.request("POST", "/v1/volumes", json: ["name": "kept", "capacity_bytes": 5 << 20, "replicas": 2, "provisioning": "thick"])
                .status == 201)
        #expect(try await first.request("POST", "/v1/volumes", json: ["name": "thin-one", "capacity_bytes": 1 << 40]).status == 201)
        #expect(try await first.request("PATCH", "/v1/volumes/thin-one", json: ["capacity_bytes": 1 << 41]).status == 200)
        let paths = ["/v1/pool", "/v1/devices", "/v1/volumes", "/v1/volumes/kept", "/v1/devices/\(id)"]
        var before: [String: Data] = [:]
        for path in paths { before[path] = try await first.request("GET", path).body }
        let token = first.token
        #expect(first.stop(removeData: false) == 0)

        let second = try ApplianceProcess(dataDir: dataDir)
        defer { second.stop() }
        #expect(second.token == token)
        for path in paths {
            let after = try await second.request("GET", path)
            #expect(after.status == 200)
            #expect(after.body == before[path], "\(path) differs after restart: \(after.text)")
        }
        // No new default devices were created on the second start.
        #expect((try await second.request("GET", "/v1/devices").json["devices"] as? [Any])?.count == 3)
    }

    @Test func aMissingDeviceIsReportedFailedAfterRestart() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let first = try ApplianceProcess(dataDir: dataDir)
        let extra = try ApplianceProcess.sparseFile(size: 64 << 20, in: scratch)
        let id = try #require(try await first.request("POST", "/v1/devices", json: ["path": extra.path]).json["id"] as? String)
        #expect(first.stop(removeData: false) == 0)
        try FileManager.default.removeItem(at: extra)

        let second = try ApplianceProcess(dataDir: dataDir)
        defer { second.stop() }
        let device = try await second.request("GET", "/v1/devices/\(id)")
        #expect(device.json["state"] as? String == "failed")
        #expect(try await second.request("PATCH", "/v1/devices/\(id)", json: ["state": "active"]).status == 409)
        #expect(try await second.request("DELETE", "/v1/devices/\(id)").status == 204)
    }
}
