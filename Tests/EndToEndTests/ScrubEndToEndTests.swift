// POST/GET /v1/pool/scrub on the real binary: idle before the first, 202 and running, 409 while
// it runs, a rotted copy on a device file found and repaired, the scrub metrics.
import Foundation
import Testing

@Suite struct ScrubEndToEndTests {
    @Test func aScrubRepairsARottedCopyAndReportsIt() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--scrub-rate", "0"])
        defer { app.stop() }
        let idle = try await app.request("GET", "/v1/pool/scrub")
        #expect(idle.status == 200)
        #expect(idle.json["state"] as? String == "idle")
        #expect(idle.json["started_at"] is NSNull)
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let data = ObjectEndToEndTests.randomData(3 << 20)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/photo", body: data).status == 201)
        // The pool's first extent lies at the start of each device's data area (after the 1 MiB
        // superblock area and the metadata area).
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let first = try #require(devices.first { ($0["path"] as? String)?.hasSuffix("device-0.img") == true })
        let dataOffset = (1 << 20) + (first["metadata_bytes"] as? Int ?? 0)
        let device = app.dataDir.appendingPathComponent("devices/device-0.img")
        let handle = try FileHandle(forUpdating: device)
        try handle.seek(toOffset: UInt64(dataOffset) + 8192)
        try handle.write(contentsOf: Data(repeating: 0x5A, count: 16))
        try handle.close()

        let started = try await app.request("POST", "/v1/pool/scrub")
        #expect(started.status == 202, "\(started.text)")
        #expect(started.json["state"] as? String == "running")
        #expect(started.json["total_bytes"] as? Int == 2 * (3 << 20))

        var status: [String: Any] = [:]
        for _ in 0..<200 {
            status = try await app.request("GET", "/v1/pool/scrub").json
            if status["state"] as? String == "finished" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status["state"] as? String == "finished")
        #expect(status["checked_bytes"] as? Int == 2 * (3 << 20))
        #expect(status["errors"] as? Int == 1)
        #expect(status["repaired"] as? Int == 1)
        #expect((status["unrepairable"] as? [Any])?.isEmpty == true)
        #expect(status["finished_at"] is String)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/photo").body == data)

        let metrics = try await app.request("GET", "/metrics").text
        #expect(metrics.contains("appliance_scrub_checked_bytes_total \(2 * (3 << 20))"))
        #expect(metrics.contains("appliance_scrub_repaired_total 1"))
        #expect(metrics.contains("appliance_scrub_errors_total 1"))
        #expect(metrics.contains("appliance_scrub_unrepairable_total 0"))
        #expect(metrics.contains("appliance_scrub_last_completed_timestamp_seconds"))
        // The dashboard's progress gauge: the last scrub checked all it set out to.
        #expect(metrics.contains("appliance_scrub_running 0.0"))
        #expect(metrics.contains("appliance_scrub_run_checked_bytes \(Double(2 * (3 << 20)))"))
        #expect(metrics.contains("appliance_scrub_run_total_bytes \(Double(2 * (3 << 20)))"))
    }

    @Test func aSecondScrubIsRefusedWhileOneRuns() async throws {
        // 4 KiB/s: the scrub is still on its first extent's throttle when the test ends (and the
        // shutdown stops it).
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--scrub-rate", "4096"])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/a", body: ObjectEndToEndTests.randomData(1 << 20)).status == 201)
        #expect(try await app.request("POST", "/v1/pool/scrub").status == 202)
        let again = try await app.request("POST", "/v1/pool/scrub")
        #expect(again.status == 409)
        #expect(again.header("Content-Type")?.hasPrefix("application/problem+json") == true)
        #expect(again.json["detail"] as? String == "a scrub is already running; GET /v1/pool/scrub shows its progress")
        let status = try await app.request("GET", "/v1/pool/scrub").json
        #expect(status["state"] as? String == "running")
        #expect(status["finished_at"] is NSNull)
    }

    @Test func aScrubIntervalStartsScrubsByItself() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off", "--scrub-interval", "1", "--scrub-rate", "0"])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/a", body: ObjectEndToEndTests.randomData(100_000)).status == 201)
        var status: [String: Any] = [:]
        for _ in 0..<100 {
            status = try await app.request("GET", "/v1/pool/scrub").json
            if status["state"] as? String == "finished", status["checked_bytes"] as? Int ?? 0 > 0 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status["state"] as? String == "finished")
        #expect(status["checked_bytes"] as? Int == 102_400)
    }

    @Test func aBadScrubRateIsRefusedAtStart() throws {
        let result = try CheckCommandTests.run(["serve", "--scrub-rate", "-5", "--data-dir", "/nonexistent-x"])
        #expect(result.status != 0)
        #expect(result.output.contains("scrub-rate"))
    }
}
