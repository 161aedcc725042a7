// A sync PUT is durable on a power cut only if the catalog commit that points at its data is in a
// WAL that has been synced, on every copy of the catalog, before the answer. The catalog's copies
// live on the devices' metadata areas and are synced together on a ring (where strace cannot see
// them), so the server's own count of catalog syncs is read from /metrics: every sync PUT and
// DELETE must cost at least one (under WAL with `synchronous = NORMAL` there were 11 for 579 sync
// PUTs: checkpoints only). The power-cut test (EngineTests/Crash) checks the same from below.
import Foundation
import Testing

@Suite struct CatalogDurabilityEndToEndTests {
    static func catalogSyncs(_ app: ApplianceProcess) async throws -> Int {
        let metrics = try await app.request("GET", "/metrics").text
        let line = try #require(metrics.split(separator: "\n").first { $0.hasPrefix("appliance_metadata_syncs_total ") })
        return try #require(Int(line.split(separator: " ")[1]))
    }

    @Test func everySyncCommitSyncsTheCatalogsWAL() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        let pool = try await app.request("GET", "/v1/pool").json
        let copies = try #require(pool["metadata_copies"] as? [String: Any])
        #expect((copies["devices"] as? [String])?.count == 2, "\(copies)")
        let before = try await Self.catalogSyncs(app)
        let puts = 12
        for i in 0..<puts {
            let query = i % 2 == 0 ? "" : "?io=direct"
            #expect(
                try await app.request("PUT", "/v1/volumes/objs/objects/o\(i)\(query)", body: Data(repeating: UInt8(i), count: 5000)).status == 201)
        }
        #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/o0").status == 204)
        let syncs = try await Self.catalogSyncs(app) - before
        #expect(syncs >= puts + 1, "\(syncs) syncs of the catalog for \(puts) sync PUTs and a DELETE")
    }
}
