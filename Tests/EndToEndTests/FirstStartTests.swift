// The first start on a fresh machine: a relative --data-dir (as `make serve` passes, ./data) works,
// and a first start that failed half way is completed by the next one.
import Foundation
import Testing

@Suite struct FirstStartTests {
    static func devices(_ app: ApplianceProcess) async throws -> [[String: Any]] {
        let response = try await app.request("GET", "/v1/devices")
        #expect(response.status == 200)
        return try #require(response.json["devices"] as? [[String: Any]])
    }

    @Test func aRelativeDataDirWorks() async throws {
        let root = ApplianceProcess.makeTempDir().resolvingSymlinksInPath()
        defer { try? FileManager.default.removeItem(at: root) }
        let app = try ApplianceProcess(dataDir: root.appendingPathComponent("data"), workingDirectory: root)
        defer { app.stop() }
        let devices = try await Self.devices(app)
        #expect(devices.count == 2)
        for device in devices {
            let path = try #require(device["path"] as? String)
            #expect(path.hasPrefix(root.path + "/data/devices/"), "\(path) is not the default device under the data dir")
        }
        try await ObjectEndToEndTests.makeVolume(app)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/a", body: Data("hello".utf8)).status == 201)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/a").text == "hello")
    }

    @Test func aFirstStartThatFailedHalfWayIsCompletedByTheNext() async throws {
        let root = ApplianceProcess.makeTempDir().resolvingSymlinksInPath()
        defer { try? FileManager.default.removeItem(at: root) }
        let dataDir = root.appendingPathComponent("data")
        // The second default device cannot be created: the first start stops after adding the first.
        let blocker = dataDir.appendingPathComponent("devices/device-1.img")
        try FileManager.default.createDirectory(at: blocker, withIntermediateDirectories: true)
        #expect(throws: (any Error).self) { _ = try ApplianceProcess(dataDir: dataDir) }
        try FileManager.default.removeItem(at: blocker)

        let app = try ApplianceProcess(dataDir: dataDir)
        let devices = try await Self.devices(app)
        #expect(devices.map { $0["label"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") } == ["default-0", "default-1"])
        // Once complete, a device the operator removes is not created again at the next start.
        let second = try #require(devices.first { $0["label"] as? String == "default-1" }?["id"] as? String)
        #expect(try await app.request("DELETE", "/v1/devices/\(second)").status == 204)
        #expect(app.stop(removeData: false) == 0)
        let again = try ApplianceProcess(dataDir: dataDir)
        defer { again.stop() }
        #expect(try await Self.devices(again).count == 1)
    }
}
