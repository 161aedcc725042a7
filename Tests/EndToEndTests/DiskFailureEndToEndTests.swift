// The README's "when a disk fails" steps on the real binary: drain a healthy disk and remove it;
// a disk that died while the appliance was down is failed at start, the pool shows degraded
// bytes, a new disk is added, the copies are rebuilt onto it, and the dead one is removed with
// force=true. Every object is read back after each step.
import Foundation
import Testing

@Suite struct DiskFailureEndToEndTests {
    static func poll(_ seconds: Double = 60, _ condition: () async throws -> Bool) async throws -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while Date() < until {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try await condition()
    }

    static func putObjects(_ app: ApplianceProcess) async throws -> [String: Data] {
        var objects: [String: Data] = [:]
        for i in 0..<6 {
            let data = ObjectEndToEndTests.randomData(i == 0 ? 5 << 20 : 100_000 + i)
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/o\(i)", body: data).status == 201)
            objects["o\(i)"] = data
        }
        return objects
    }

    static func verify(_ app: ApplianceProcess, _ objects: [String: Data]) async throws {
        for (key, data) in objects {
            let got = try await app.request("GET", "/v1/volumes/objs/objects/\(key)?io=direct")
            #expect(got.status == 200)
            #expect(got.body == data, "\(key)")
        }
    }

    @Test func aDrainedDiskIsEmptiedAndRemoved() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--device-count", "3"])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, capacity: 64 << 20, replicas: 2)
        let objects = try await Self.putObjects(app)
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let busy = try #require(devices.first { ($0["used_bytes"] as? Int ?? 0) > 0 })
        let id = try #require(busy["id"] as? String)

        let bad = try await app.request("PATCH", "/v1/devices/\(id)", json: ["state": "gone"])
        #expect(bad.status == 400)
        let patched = try await app.request("PATCH", "/v1/devices/\(id)", json: ["state": "draining"])
        #expect(patched.status == 200, "\(patched.text)")
        #expect(patched.json["state"] as? String == "draining")
        #expect(try await Self.poll { try await app.request("GET", "/v1/devices/\(id)").json["remaining_bytes"] as? Int == 0 })
        let drained = try await app.request("GET", "/v1/devices/\(id)").json
        #expect(drained["moved_bytes"] as? Int ?? 0 > 0)
        try await Self.verify(app, objects)
        #expect(try await app.request("DELETE", "/v1/devices/\(id)").status == 204)
        try await Self.verify(app, objects)

        // Two devices left and a 2-replica volume: draining either has nowhere to go.
        let left = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let refused = try await app.request("PATCH", "/v1/devices/\(left[0]["id"] as! String)", json: ["state": "draining"])
        #expect(refused.status == 409 || refused.status == 507, "\(refused.text)")
        #expect(try await app.request("GET", "/v1/devices/\(left[0]["id"] as! String)").json["state"] as? String == "active")
    }

    @Test func aDeadDiskIsRebuiltOntoANewOneAndRemovedWithForce() async throws {
        var app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        try await ObjectEndToEndTests.makeVolume(app, capacity: 64 << 20, replicas: 2)
        let objects = try await Self.putObjects(app)
        #expect(try await app.request("GET", "/v1/pool").json["degraded_bytes"] as? Int == 0)
        app.stop(removeData: false)
        let dataDir = app.dataDir
        defer { try? FileManager.default.removeItem(at: dataDir) }
        try FileManager.default.removeItem(at: dataDir.appendingPathComponent("devices/device-0.img"))

        app = try ApplianceProcess(dataDir: dataDir, extraArguments: ["--s3-listen", "off"])
        defer { app.stop(removeData: false) }
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let dead = try #require(devices.first { $0["state"] as? String == "failed" })
        let deadID = try #require(dead["id"] as? String)
        #expect(try await app.request("GET", "/v1/pool").json["degraded_bytes"] as? Int ?? 0 > 0)
        try await Self.verify(app, objects)  // from the surviving copies
        let early = try await app.request("DELETE", "/v1/devices/\(deadID)")
        #expect(early.status == 409, "without force a device holding copies stays: \(early.text)")

        let replacement = try ApplianceProcess.sparseFile(size: 256 << 20, in: dataDir.appendingPathComponent("devices"), name: "replacement.img")
        #expect(try await app.request("POST", "/v1/devices", json: ["path": replacement.path]).status == 201)
        #expect(try await Self.poll { try await app.request("GET", "/v1/pool").json["degraded_bytes"] as? Int == 0 })
        #expect(try await app.request("DELETE", "/v1/devices/\(deadID)?force=true").status == 204)
        try await Self.verify(app, objects)
        let after = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        #expect(after.count == 2)
        #expect(after.allSatisfy { $0["state"] as? String == "active" })
    }
}
