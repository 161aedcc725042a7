// /v1/devices against the real binary: add, validation errors, state, removal.
import Foundation
import Testing

@Suite struct DeviceEndToEndTests {
    @Test func firstStartCreatesTwoFileDevices() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let list = try await app.request("GET", "/v1/devices")
        #expect(list.status == 200)
        let devices = try #require(list.json["devices"] as? [[String: Any]])
        #expect(devices.count == 2)
        for device in devices {
            #expect(device["state"] as? String == "active")
            // After the superblock (1 MiB) and the metadata area (1/32 of the device, at least 16 MiB).
            #expect(device["metadata_bytes"] as? Int == 16 << 20)
            #expect(device["capacity_bytes"] as? Int == (256 << 20) - (1 << 20) - (16 << 20))
            #expect(device["used_bytes"] as? Int == 0)
            #expect((device["path"] as? String)?.hasPrefix(app.dataDir.path) == true)
        }
    }

    @Test func addGetPatchDeleteADevice() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = try ApplianceProcess.sparseFile(size: 128 << 20, in: scratch)
        let created = try await app.request("POST", "/v1/devices", json: ["path": file.path, "label": "extra"])
        #expect(created.status == 201)
        let id = try #require(created.json["id"] as? String)
        #expect(created.header("Location") == "/v1/devices/\(id)")
        #expect(created.json["label"] as? String == "extra")
        #expect(created.json["capacity_bytes"] as? Int == (127 - 16) << 20)
        #expect(created.json["metadata_bytes"] as? Int == 16 << 20)
        #expect([512, 4096].contains(created.json["logical_block_size"] as? Int ?? 0))

        let again = try await app.request("POST", "/v1/devices", json: ["path": file.path])
        #expect(again.status == 409)

        let patched = try await app.request("PATCH", "/v1/devices/\(id)", json: ["state": "readonly"])
        #expect(patched.status == 200)
        #expect(patched.json["state"] as? String == "readonly")
        #expect(try await app.request("GET", "/v1/devices/\(id)").json["state"] as? String == "readonly")
        #expect(try await app.request("PATCH", "/v1/devices/\(id)", json: ["state": "failed"]).status == 400)
        #expect(try await app.request("PATCH", "/v1/devices/\(id)", json: ["state": 3]).status == 400)

        #expect(try await app.request("DELETE", "/v1/devices/\(id)").status == 204)
        #expect(try await app.request("GET", "/v1/devices/\(id)").status == 404)
        #expect(try await app.request("DELETE", "/v1/devices/\(id)").status == 404)
        // The superblock was wiped: the file can join again without force.
        #expect(try await app.request("POST", "/v1/devices", json: ["path": file.path]).status == 201)
    }

    @Test func unusablePathsAre400AndChangeNothing() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let small = try ApplianceProcess.sparseFile(size: 1 << 20, in: scratch)
        let cases: [(Any, String)] = [
            (["path": scratch.appendingPathComponent("missing").path], "does not exist"),
            (["path": scratch.path], "regular file or a block device"),
            (["path": small.path], "64 MiB"),
            (["path": "relative/path"], "absolute"),
            (["path": "/dev/null"], "regular file or a block device"),
            (["path": 42], "path"),
            (["label": "x"], "path"),
            (["path": small.path, "colour": "red"], "colour"),
        ]
        for (body, reason) in cases {
            let response = try await app.request("POST", "/v1/devices", json: body)
            #expect(response.status == 400, "\(body)")
            #expect((response.json["detail"] as? String)?.contains(reason) == true, "\(body): \(response.text)")
        }
        let malformed = try await app.request("POST", "/v1/devices", body: Data("{\"path\":".utf8))
        #expect(malformed.status == 400)
        let devices = try await app.request("GET", "/v1/devices").json["devices"] as? [Any]
        #expect(devices?.count == 2)
    }

    @Test func foreignDataNeedsForce() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let file = try ApplianceProcess.sparseFile(size: 64 << 20, in: scratch)
        let handle = try FileHandle(forWritingTo: file)
        try handle.write(contentsOf: Data("not an appliance superblock".utf8))
        try handle.close()
        let refused = try await app.request("POST", "/v1/devices", json: ["path": file.path])
        #expect(refused.status == 409)
        #expect((refused.json["detail"] as? String)?.contains("force") == true)
        #expect(try await app.request("POST", "/v1/devices", json: ["path": file.path, "force": true]).status == 201)
    }

    @Test func aDeviceOfAnotherPoolIsRefusedUnlessForced() async throws {
        let first = try ApplianceProcess()
        defer { first.stop() }
        let second = try ApplianceProcess()
        defer { second.stop() }
        let secondDevices = try #require(try await second.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let path = try #require(secondDevices.first?["path"] as? String)
        let refused = try await first.request("POST", "/v1/devices", json: ["path": path])
        #expect(refused.status == 409)
        #expect((refused.json["detail"] as? String)?.contains("another pool") == true)
    }

    @Test func removalIsRefusedWhileAVolumeNeedsTheReplicas() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "mirrored", "capacity_bytes": 1 << 20, "replicas": 2]).status == 201)
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let id = try #require(devices.first?["id"] as? String)
        let refused = try await app.request("DELETE", "/v1/devices/\(id)")
        #expect(refused.status == 409)
        #expect(try await app.request("GET", "/v1/devices/\(id)").status == 200)
        #expect(try await app.request("DELETE", "/v1/volumes/mirrored").status == 204)
        #expect(try await app.request("DELETE", "/v1/devices/\(id)").status == 204)
    }
}
