// What must never happen: a reader seeing a mix of versions, a corrupted replica served, or data
// lost across a restart.
import Crypto
import Foundation
import Testing

@Suite struct ObjectDurabilityTests {
    @Test func overwritesAreAtomicForConcurrentReaders() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let size = (6 << 20) + 100
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/flip", body: Data(repeating: 0x41, count: size)).status == 201)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for i in 0..<12 {
                    let byte: UInt8 = [0x42, 0x43, 0x44][i % 3]
                    let put = try await app.request("PUT", "/v1/volumes/objs/objects/flip", body: Data(repeating: byte, count: size))
                    #expect(put.status == 200)
                }
            }
            for _ in 0..<3 {
                group.addTask {
                    for _ in 0..<12 {
                        let get = try await app.request("GET", "/v1/volumes/objs/objects/flip")
                        #expect(get.status == 200)
                        #expect(get.body.count == size)
                        let first = get.body.first ?? 0
                        #expect(get.body.allSatisfy { $0 == first }, "a reader saw a mix of versions")
                    }
                }
            }
            try await group.waitForAll()
        }
        // Replaced versions were freed: only the last version's two replicas remain allocated.
        try await Task.sleep(for: .milliseconds(200))
        let allocated = try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int
        #expect(allocated == 2 * ((size + 4095) / 4096 * 4096))
    }

    @Test func aCorruptedReplicaIsDetectedAndTheOtherServed() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let data = ObjectEndToEndTests.randomData(64 << 10)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/precious", body: data).status == 201)
        // Flip a byte in the replica that is read first (replicas are tried in device-id order).
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let firstPath = try #require(devices.compactMap { d in (d["id"] as? String).map { ($0, d["path"] as? String ?? "") } }.min { $0.0 < $1.0 }?.1)
        let marker = data.subdata(in: 8192..<8192 + 64)
        var corrupted = false
        for path in [firstPath] where !corrupted {
            let url = URL(fileURLWithPath: path)
            let contents = try Data(contentsOf: url)
            if let range = contents.range(of: marker) {
                let handle = try FileHandle(forWritingTo: url)
                try handle.seek(toOffset: UInt64(range.lowerBound + 10))
                try handle.write(contentsOf: Data([contents[range.lowerBound + 10] ^ 0xFF]))
                try handle.synchronize()
                try handle.close()
                corrupted = true
            }
        }
        #expect(corrupted)
        // Direct: the cache would serve it without touching the disk.
        let get = try await app.request("GET", "/v1/volumes/objs/objects/precious?io=direct")
        #expect(get.status == 200)
        #expect(get.body == data)
        // Counted on the device (by the read, and again by the read repair that follows it), and
        // the bad copy rewritten from the good one in the background.
        var metrics = ""
        for _ in 0..<100 {
            metrics = try await app.request("GET", "/metrics", auth: false).text
            if metrics.contains("appliance_scrub_repaired_total 1") { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let errors = metrics.split(separator: "\n").filter { $0.hasPrefix("appliance_device_checksum_errors_total{") }
        #expect(errors.contains { !$0.hasSuffix(" 0") && !$0.hasSuffix(" 0.0") }, "\(errors)")
        #expect(errors.filter { !$0.hasSuffix(" 0") && !$0.hasSuffix(" 0.0") }.count == 1, "only the corrupted device: \(errors)")
        #expect(metrics.contains("appliance_scrub_repaired_total 1"))
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/precious?io=direct").body == data)
    }

    @Test func noIntactReplicaIs503NotAClippedBody() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let data = ObjectEndToEndTests.randomData(20_000)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/lost?io=direct", body: data).status == 201)
        let marker = data.subdata(in: 4096..<4096 + 64)
        var corrupted = 0
        for name in ["device-0.img", "device-1.img"] {
            let url = app.dataDir.appendingPathComponent("devices/\(name)")
            let contents = try Data(contentsOf: url)
            guard let range = contents.range(of: marker) else { continue }
            let handle = try FileHandle(forWritingTo: url)
            try handle.seek(toOffset: UInt64(range.lowerBound))
            try handle.write(contentsOf: Data(repeating: 0x5A, count: 8))
            try handle.synchronize()
            try handle.close()
            corrupted += 1
        }
        #expect(corrupted == 2)
        let get = try await app.request("GET", "/v1/volumes/objs/objects/lost?io=direct")
        #expect(get.status == 503)
        #expect(get.header("Content-Type") == "application/problem+json")
    }

    @Test func objectsSurviveARestart() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let first = try ApplianceProcess(dataDir: dataDir)
        try await ObjectEndToEndTests.makeVolume(first, replicas: 2)
        var stored: [String: Data] = [:]
        for i in 0..<6 {
            let data = ObjectEndToEndTests.randomData(i * 700_001 + 3)
            stored["k\(i)"] = data
            #expect(try await first.request("PUT", "/v1/volumes/objs/objects/k\(i)", body: data).status == 201)
        }
        #expect(try await first.request("DELETE", "/v1/volumes/objs/objects/k0").status == 204)
        stored["k0"] = nil
        let listing = try await first.request("GET", "/v1/volumes/objs/objects").body
        let pool = try await first.request("GET", "/v1/pool").body
        #expect(first.stop(removeData: false) == 0)

        let second = try ApplianceProcess(dataDir: dataDir)
        defer { second.stop() }
        #expect(try await second.request("GET", "/v1/volumes/objs/objects").body == listing)
        #expect(try await second.request("GET", "/v1/pool").body == pool)
        for (key, data) in stored {
            #expect(try await second.request("GET", "/v1/volumes/objs/objects/\(key)").body == data, "\(key)")
        }
        // Space rebuilt from the catalog: new writes do not overwrite old extents.
        let extra = ObjectEndToEndTests.randomData(3 << 20)
        #expect(try await second.request("PUT", "/v1/volumes/objs/objects/new", body: extra).status == 201)
        for (key, data) in stored {
            #expect(try await second.request("GET", "/v1/volumes/objs/objects/\(key)").body == data, "\(key) after a new write")
        }
    }
}
