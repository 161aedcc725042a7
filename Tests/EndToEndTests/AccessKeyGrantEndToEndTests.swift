// A permission names a volume that exists (or `*`): one granted on a free name would hand the
// volume someone creates later under that name (a bucket through S3, a volume through /v1) to the
// key that holds it. Refused when granted, dropped when the volume goes, and dropped at start from
// a catalog that holds some from before the check.
import Catalog
import Engine
import Foundation
import Testing

@Suite struct AccessKeyGrantEndToEndTests {
    static func permissions(_ app: ApplianceProcess, _ id: String) async throws -> [String: String]? {
        try await app.request("GET", "/v1/access-keys/\(id)").json["permissions"] as? [String: String]
    }

    static func keyCount(_ app: ApplianceProcess) async throws -> Int? {
        (try await app.request("GET", "/v1/access-keys").json["access_keys"] as? [[String: Any]])?.count
    }

    @Test func aGrantOnAVolumeThatDoesNotExistIsRefused() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        defer { app.stop() }
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "photos", "capacity_bytes": 1 << 20]).status == 201)

        let refused = try await app.request(
            "POST", "/v1/access-keys", json: ["name": "squatter", "permissions": ["photos": "read", "future": "owner"]])
        #expect(refused.status == 400)
        #expect(refused.header("Content-Type") == "application/problem+json")
        let detail = refused.json["detail"] as? String ?? ""
        #expect(detail.contains("permissions") && detail.contains("'future'") && !detail.contains("'photos'"), "\(detail)")
        #expect(try await Self.keyCount(app) == 1, "a refused key is not created")

        let wildcard = try await app.request("POST", "/v1/access-keys", json: ["name": "reader", "permissions": ["*": "read"]])
        #expect(wildcard.status == 201)
        let created = try await app.request("POST", "/v1/access-keys", json: ["name": "photos", "permissions": ["photos": "write"]])
        #expect(created.status == 201)
        let id = try #require(created.json["access_key_id"] as? String)

        let patched = try await app.request(
            "PATCH", "/v1/access-keys/\(id)", json: ["name": "renamed", "permissions": ["photos": "write", "future": "owner"]])
        #expect(patched.status == 400)
        #expect((patched.json["detail"] as? String)?.contains("'future'") == true)
        let unchanged = try await app.request("GET", "/v1/access-keys/\(id)")
        #expect(unchanged.json["name"] as? String == "photos")
        #expect(unchanged.json["permissions"] as? [String: String] == ["photos": "write"])

        // Once the volume exists the same grant is fine; when it goes, the grant goes with it, so a
        // volume created again under that name is not the key's.
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "future", "capacity_bytes": 1 << 20]).status == 201)
        #expect(try await app.request("PATCH", "/v1/access-keys/\(id)", json: ["permissions": ["photos": "write", "future": "owner"]]).status == 200)
        #expect(try await app.request("DELETE", "/v1/volumes/future").status == 204)
        #expect(try await Self.permissions(app, id) == ["photos": "write"])
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": "future", "capacity_bytes": 1 << 20]).status == 201)
        #expect(try await Self.permissions(app, id) == ["photos": "write"])
    }

    @Test func grantsOnMissingVolumesLeftInACatalogAreDroppedAtStart() async throws {
        let first = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        #expect(try await first.request("POST", "/v1/volumes", json: ["name": "photos", "capacity_bytes": 1 << 20]).status == 201)
        let created = try await first.request("POST", "/v1/access-keys", json: ["name": "old", "permissions": ["photos": "read"]])
        let id = try #require(created.json["access_key_id"] as? String)
        #expect(first.stop(removeData: false) == 0)
        defer { try? FileManager.default.removeItem(at: first.dataDir) }

        // What an older version let through: a grant on a name no volume has.
        try OpenedCatalog.withCatalog(dataDirectory: first.dataDir.path) { catalog in
            _ = try catalog.updateAccessKey(id: id) { $0.permissionMap = ["photos": "read", "future": "owner"] }
        }

        let again = try ApplianceProcess(dataDir: first.dataDir, extraArguments: ["--s3-listen", "off"])
        defer { again.stop(removeData: false) }
        #expect(try await Self.permissions(again, id) == ["photos": "read"])
        #expect(try await again.request("POST", "/v1/volumes", json: ["name": "future", "capacity_bytes": 1 << 20]).status == 201)
        #expect(try await Self.permissions(again, id) == ["photos": "read"])
    }
}
