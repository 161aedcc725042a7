// Object versions against kill -9, on the real binary: writers PUT, PATCH and delete (markers, and
// versions by id) in a volume with versioning enabled while the process is killed in the middle,
// three times over. After every restart each version acknowledged with an id is there with its
// bytes (unless a delete of it was acknowledged), each key's current object is its newest
// acknowledged write or nothing after an acknowledged delete marker, and `appliance check
// --verify-data` is clean at the end.
import Foundation
import Testing

@Suite struct VersionsCrashEndToEndTests {
    /// What the writers were told: versions (key, id → bytes), deleted version ids.
    final class Acknowledged: @unchecked Sendable {
        private let lock = NSLock()
        private var versions: [String: [String: Data]] = [:]
        private var deleted: Set<String> = []
        private var maybeDeleted: Set<String> = []
        func add(_ key: String, _ id: String, _ data: Data) { lock.withLock { versions[key, default: [:]][id] = data } }
        func delete(_ id: String) { lock.withLock { _ = deleted.insert(id) } }
        /// A delete by id whose answer never came (the process was killed with it in flight): the
        /// version may be there or not, but if it is there it must be whole.
        func deleteInFlight(_ id: String) { lock.withLock { _ = maybeDeleted.insert(id) } }
        var uncertain: Set<String> { lock.withLock { maybeDeleted } }
        var all: [String: [String: Data]] { lock.withLock { versions } }
        var gone: Set<String> { lock.withLock { deleted } }
        var count: Int { lock.withLock { versions.values.reduce(0) { $0 + $1.count } } }
    }

    static let keys = ["a", "b/c", "d"]

    @Test func everyAcknowledgedVersionSurvivesKillNine() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let acknowledged = Acknowledged()
        for cycle in 0..<3 {
            let app = try ApplianceProcess(dataDir: dataDir)
            if cycle == 0 {
                #expect(
                    try await app.request("POST", "/v1/volumes", json: ["name": "kept", "capacity_bytes": 512 << 20, "replicas": 2]).status == 201)
                #expect(try await app.request("PATCH", "/v1/volumes/kept", json: ["versioning": "enabled"]).status == 200)
            }
            try await Self.verify(app, acknowledged, context: "after restart \(cycle)")
            let before = acknowledged.count
            let writers = (0..<4).map { writer in
                Task.detached {
                    for i in 0..<10_000 {
                        let key = Self.keys[(writer + i) % Self.keys.count]
                        let path = "/v1/volumes/kept/objects/\(key)"
                        switch i % 7 {
                        case 0..<4:
                            let data = ObjectEndToEndTests.randomData(100 + (i * 997 + writer * 131) % 90_000)
                            guard let answer = try? await app.request("PUT", path, body: data) else { return }
                            guard (200...201).contains(answer.status), let id = answer.json["version_id"] as? String else { return }
                            acknowledged.add(key, id, data)
                        case 4:
                            // A PATCH makes a version whose bytes depend on the current one: read it back by id.
                            guard
                                let answer = try? await app.request(
                                    "PATCH", path, body: Data("patched".utf8), headers: ["Content-Range": "bytes 3-9/*"]),
                                answer.status == 200, let id = answer.json["version_id"] as? String,
                                let read = try? await app.request("GET", path + "?version_id=\(id)"), read.status == 200
                            else { continue }
                            acknowledged.add(key, id, read.body)
                        case 5:
                            guard (try? await app.request("DELETE", path)) != nil else { return }
                        default:
                            guard let victim = acknowledged.all[key]?.keys.randomElement() else { continue }
                            guard let answer = try? await app.request("DELETE", path + "?version_id=\(victim)") else {
                                acknowledged.deleteInFlight(victim)
                                return
                            }
                            if answer.status == 204 { acknowledged.delete(victim) }
                        }
                    }
                }
            }
            // Killed in the middle: once some writes are answered, while the rest are in flight.
            for _ in 0..<600 where acknowledged.count < before + 150 { try await Task.sleep(for: .milliseconds(50)) }
            kill(app.process.processIdentifier, SIGKILL)
            for writer in writers { await writer.value }
            app.process.waitUntilExit()
        }
        let app = try ApplianceProcess(dataDir: dataDir)
        try await Self.verify(app, acknowledged, context: "at the end")
        #expect(acknowledged.count >= 450)
        print("[versions kill -9] \(acknowledged.count) versions acknowledged over 3 kills, \(acknowledged.gone.count) deleted by id")
        #expect(app.stop(removeData: false) == 0)
        let check = try CheckCommandTests.check(["--data-dir", dataDir.path, "--verify-data"])
        #expect(check.status == 0, "appliance check: \(check.output)")
    }

    /// Every version acknowledged and not deleted reads back by id with its bytes, and the
    /// versions listing holds each of them.
    static func verify(_ app: ApplianceProcess, _ acknowledged: Acknowledged, context: String) async throws {
        let gone = acknowledged.gone
        let uncertain = acknowledged.uncertain
        let listing = try await app.request("GET", "/v1/volumes/kept/versions").json
        let listed = Set((listing["versions"] as? [[String: Any]] ?? []).compactMap { $0["version_id"] as? String })
        for (key, versions) in acknowledged.all {
            for (id, data) in versions where !gone.contains(id) {
                let got = try await app.request("GET", "/v1/volumes/kept/objects/\(key)?version_id=\(id)")
                if uncertain.contains(id) && got.status == 404 {
                    #expect(!listed.contains(id), "\(context): \(key)@\(id) is listed but cannot be read")
                    continue
                }
                #expect(got.status == 200 && got.body == data, "\(context): \(key)@\(id): \(got.status), \(got.body.count) of \(data.count) bytes")
                #expect(listed.contains(id), "\(context): \(key)@\(id) is not listed")
            }
        }
    }
}
