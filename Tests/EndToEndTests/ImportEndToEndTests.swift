// The pool carries its own metadata, against the real binary with device files outside the data
// directory: a replicas-2 volume written through both APIs (sync, async + flush, overwrites,
// deletes, an open multipart upload), then the data directory deleted and the pool imported with
// --device from renamed paths in another order; the same with one device replaced by a blank file
// (degraded, then rebuilt); from the two survivors only; with one catalog copy garbled; and after a
// kill -9 in the middle of sync PUTs.
import Foundation
import Testing

@Suite struct ImportEndToEndTests {
    static let deviceSize: Int64 = 256 << 20

    struct Pool {
        var devices: [URL]
        var objects: [String: Data]
        var volume: [String: Any]
        var uploadID: String
    }

    /// Three device files in `scratch`, a pool on them (no default devices) with a replicas-2
    /// volume written through the native API and S3; the appliance is stopped.
    static func makePool(in scratch: URL) async throws -> (Pool, URL) {
        let devices = try (0..<3).map { try ApplianceProcess.sparseFile(size: deviceSize, in: scratch, name: "disk-\($0).img") }
        let dataDir = scratch.appendingPathComponent("data")
        let app = try ApplianceProcess(dataDir: dataDir, extraArguments: devices.flatMap { ["--device", $0.path] })
        var objects: [String: Data] = [:]
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "objs", "capacity_bytes": 128 << 20, "replicas": 2]).status == 201)
        for i in 0..<12 {
            let data = ObjectEndToEndTests.randomData(1000 + i * 3000)
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/sync-\(i)", body: data).status == 201)
            objects["sync-\(i)"] = data
        }
        for i in 0..<6 {
            let data = ObjectEndToEndTests.randomData(5000 + i)
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/async-\(i)?durability=async", body: data).status == 201)
            objects["async-\(i)"] = data
        }
        #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204)
        let overwrite = ObjectEndToEndTests.randomData(7777)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/sync-0", body: overwrite).status == 200)
        objects["sync-0"] = overwrite
        #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/sync-1").status == 204)
        objects["sync-1"] = nil
        // Through S3: a bucket-level PUT (the volume is the bucket) and an open multipart upload.
        let viaS3 = ObjectEndToEndTests.randomData(20_000)
        #expect(try await app.s3("PUT", "/objs/from-s3", body: [UInt8](viaS3)).status == 200)
        objects["from-s3"] = viaS3
        let created = try await app.s3("POST", "/objs/big", query: [("uploads", "")])
        let uploadID = try #require(created.text.firstMatch(of: /<UploadId>([^<]+)<\/UploadId>/).map { String($0.1) })
        let part = try await app.s3(
            "PUT", "/objs/big", query: [("partNumber", "1"), ("uploadId", uploadID)], body: [UInt8](ObjectEndToEndTests.randomData(5 << 20)))
        #expect(part.status == 200)
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        let pool = try await app.request("GET", "/v1/pool").json
        #expect((pool["metadata_copies"] as? [String: Any])?["healthy"] as? Int == 3, "\(pool)")
        #expect(app.stop(removeData: false) == 0)
        return (Pool(devices: devices, objects: objects, volume: volume, uploadID: uploadID), dataDir)
    }

    /// Every object byte for byte, the volume's settings and counts, the listing, the open upload.
    static func expectIntact(_ app: ApplianceProcess, _ pool: Pool) async throws {
        for (key, data) in pool.objects {
            let got = try await app.request("GET", "/v1/volumes/objs/objects/\(key)")
            #expect(got.status == 200 && got.body == data, "\(key): \(got.status)")
        }
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        for field in ["capacity_bytes", "replicas", "provisioning", "used_bytes", "object_count", "created_at"] {
            #expect("\(volume[field] ?? "nil")" == "\(pool.volume[field] ?? "nil")", "\(field)")
        }
        let listing = try await app.request("GET", "/v1/volumes/objs/objects").json
        let keys = (listing["objects"] as? [[String: Any]])?.compactMap { $0["key"] as? String } ?? []
        #expect(keys == pool.objects.keys.sorted())
        let parts = try await app.s3("GET", "/objs/big", query: [("uploadId", pool.uploadID)])
        #expect(parts.status == 200 && parts.text.contains("<PartNumber>1</PartNumber>"), "\(parts.text)")
    }

    @Test func aNewDataDirectoryImportsThePoolFromRenamedDevicesInAnotherOrder() async throws {
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        var (pool, dataDir) = try await Self.makePool(in: scratch)
        try FileManager.default.removeItem(at: dataDir)
        var renamed: [URL] = []
        for (index, device) in pool.devices.enumerated().reversed() {
            let moved = scratch.appendingPathComponent("moved-\(index).img")
            try FileManager.default.moveItem(at: device, to: moved)
            renamed.append(moved)
        }
        pool.devices = renamed
        let app = try ApplianceProcess(dataDir: scratch.appendingPathComponent("new"), extraArguments: renamed.flatMap { ["--device", $0.path] })
        defer { app.stop(removeData: false) }
        try await Self.expectIntact(app, pool)
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        #expect(Set(devices.compactMap { $0["path"] as? String }) == Set(renamed.map { $0.resolvingSymlinksInPath().path }))
        #expect(devices.allSatisfy { $0["state"] as? String == "active" })
    }

    @Test func aBlankReplacementIsRebuiltAndTwoSurvivorsAreEnough() async throws {
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (pool, dataDir) = try await Self.makePool(in: scratch)
        try FileManager.default.removeItem(at: dataDir)
        // (c) the two survivors only.
        let survivors = Array(pool.devices[1...])
        try FileManager.default.removeItem(at: pool.devices[0])
        let two = try ApplianceProcess(dataDir: scratch.appendingPathComponent("two"), extraArguments: survivors.flatMap { ["--device", $0.path] })
        try await Self.expectIntact(two, pool)
        // The missing member is failed (its copies are rebuilt on the two, which may be done already).
        let members = try #require(try await two.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        #expect(members.map { $0["state"] as? String ?? "" }.sorted() == ["active", "active", "failed"], "\(members)")
        #expect(two.stop() == 0)
        // (b) a blank file in the dead one's place: added, the rebuild runs onto it, healthy again.
        let blank = try ApplianceProcess.sparseFile(size: Self.deviceSize, in: scratch, name: "blank.img")
        let app = try ApplianceProcess(
            dataDir: scratch.appendingPathComponent("three"), extraArguments: (survivors + [blank]).flatMap { ["--device", $0.path] })
        defer { app.stop(removeData: false) }
        try await Self.expectIntact(app, pool)
        var status: [String: Any] = [:]
        for _ in 0..<300 {
            status = try await app.request("GET", "/v1/pool").json
            if status["degraded_bytes"] as? Int == 0, (status["metadata_copies"] as? [String: Any])?["healthy"] as? Int == 3 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(status["degraded_bytes"] as? Int == 0, "\(status)")
        #expect((status["metadata_copies"] as? [String: Any])?["healthy"] as? Int == 3, "\(status)")
        // The dead device leaves with force once nothing of it is needed.
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        let dead = try #require(devices.first { $0["state"] as? String == "failed" }?["id"] as? String)
        #expect(try await app.request("DELETE", "/v1/devices/\(dead)?force=true").status == 204)
        try await Self.expectIntact(app, pool)
    }

    @Test func aGarbledCatalogCopyIsReadAroundAndRepaired() async throws {
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (pool, dataDir) = try await Self.makePool(in: scratch)
        // Garble every database page of one device's copy but the first (its header page).
        let handle = try FileHandle(forUpdating: pool.devices[0])
        let area: UInt64 = 1 << 20
        let database = area + (64 << 10) + (4 << 20)  // 16 MiB area: the WAL region is 4 MiB
        for page in 1..<200 {
            try handle.seek(toOffset: database + UInt64(page * 4096) + 512)
            try handle.write(contentsOf: Data(repeating: 0xC3, count: 32))
        }
        try handle.close()
        let app = try ApplianceProcess(dataDir: dataDir)
        defer { app.stop() }
        try await Self.expectIntact(app, pool)
        #expect(try await app.request("POST", "/v1/pool/scrub").status == 202)
        for _ in 0..<200 {
            if try await app.request("GET", "/v1/pool/scrub").json["state"] as? String == "finished" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let metrics = try await app.request("GET", "/metrics").text
        let repaired = metrics.split(separator: "\n").first { $0.hasPrefix("appliance_metadata_repaired_pages_total ") }
        #expect((repaired.flatMap { Int($0.split(separator: " ")[1]) } ?? 0) > 0, "\(repaired ?? "no metric")")
        #expect(app.stop(removeData: false) == 0)
        let check = try CheckCommandTests.check(["--data-dir", dataDir.path])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("3 catalog copies"), "\(check.output)")
    }

    @Test func everyAcknowledgedPutSurvivesAKillAndTheLossOfTheDataDirectory() async throws {
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let devices = try (0..<3).map { try ApplianceProcess.sparseFile(size: Self.deviceSize, in: scratch, name: "disk-\($0).img") }
        let dataDir = scratch.appendingPathComponent("data")
        let app = try ApplianceProcess(dataDir: dataDir, extraArguments: devices.flatMap { ["--device", $0.path] })
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "objs", "capacity_bytes": 128 << 20, "replicas": 2]).status == 201)
        let acknowledged = AcknowledgedPuts()
        let writers = (0..<4).map { writer in
            Task.detached {
                for i in 0..<1000 {
                    let data = ObjectEndToEndTests.randomData(2000 + i)
                    guard let answer = try? await app.request("PUT", "/v1/volumes/objs/objects/w\(writer)-\(i)", body: data) else { return }
                    if answer.status == 201 { acknowledged.add("w\(writer)-\(i)", data) }
                }
            }
        }
        // Killed in the middle: once some PUTs are answered, while the rest are in flight.
        for _ in 0..<600 where acknowledged.all.count < 20 { try await Task.sleep(for: .milliseconds(100)) }
        kill(app.process.processIdentifier, SIGKILL)
        for writer in writers { await writer.value }
        app.process.waitUntilExit()
        try FileManager.default.removeItem(at: dataDir)
        let again = try ApplianceProcess(dataDir: scratch.appendingPathComponent("again"), extraArguments: devices.flatMap { ["--device", $0.path] })
        defer { again.stop(removeData: false) }
        let puts = acknowledged.all
        #expect(puts.count >= 20)
        for (key, data) in puts {
            let got = try await again.request("GET", "/v1/volumes/objs/objects/\(key)")
            #expect(got.status == 200 && got.body == data, "\(key): \(got.status)")
        }
    }

    final class AcknowledgedPuts: @unchecked Sendable {
        private let lock = NSLock()
        private var puts: [String: Data] = [:]
        func add(_ key: String, _ data: Data) { lock.withLock { puts[key] = data } }
        var all: [String: Data] { lock.withLock { puts } }
    }
}
