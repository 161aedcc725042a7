// S3 access keys on the admin API and on disk: the first start writes one key to
// <data-dir>/s3-credentials (profile appliance, mode 0600); keys are created (the secret shown
// once), listed without secrets, changed, deleted; they survive a restart; the catalog never
// holds a secret in the clear; a deleted volume takes its permissions with it.
import Foundation
import Testing

@Suite struct AccessKeyEndToEndTests {
    static func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    /// Every file of the catalog (database, WAL) as bytes.
    static func catalogBytes(_ dataDir: URL) throws -> Data {
        let names = try FileManager.default.contentsOfDirectory(atPath: dataDir.path).filter { $0.hasPrefix("catalog") }
        #expect(!names.isEmpty)
        return try names.reduce(into: Data()) { $0 += try Data(contentsOf: dataDir.appendingPathComponent($1)) }
    }

    @Test func firstStartKeyAndTheAdminAPI() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        #expect(app.s3URL != nil)
        let credentials = app.dataDir.appendingPathComponent("s3-credentials").path
        let text = try String(contentsOfFile: credentials, encoding: .utf8)
        #expect(text.hasPrefix("[appliance]\naws_access_key_id = AK"))
        #expect(text.contains("\naws_secret_access_key = "))
        #expect(try Self.mode(credentials) == 0o600)
        #expect(try Self.mode(app.dataDir.appendingPathComponent("s3-secrets.key").path) == 0o600)
        let defaultSecret = try #require(
            text.components(separatedBy: "aws_secret_access_key = ").last?.trimmingCharacters(in: .whitespacesAndNewlines))

        var listed = try await app.request("GET", "/v1/access-keys")
        #expect(listed.status == 200)
        let keys = try #require(listed.json["access_keys"] as? [[String: Any]])
        #expect(keys.count == 1 && keys[0]["create_buckets"] as? Bool == true)
        #expect((keys[0]["permissions"] as? [String: String]) == ["*": "owner"])
        #expect(keys[0]["secret_access_key"] == nil)

        // Refused inputs change nothing.
        for bad: [String: Any] in [
            ["name": ""], ["name": "x", "permissions": ["photos": "admin"]], ["name": "x", "permissions": ["Bad_Name": "read"]],
            ["name": "x", "surprise": true], ["permissions": ["photos": "read"]],
        ] {
            #expect(try await app.request("POST", "/v1/access-keys", json: bad).status == 400, "\(bad)")
        }
        for volume in ["photos", "logs"] {  // permissions name volumes that exist
            #expect(try await app.request("POST", "/v1/volumes", json: ["name": volume, "capacity_bytes": 1 << 20]).status == 201)
        }
        let created = try await app.request("POST", "/v1/access-keys", json: ["name": "backups", "permissions": ["photos": "read"]])
        #expect(created.status == 201)
        let id = try #require(created.json["access_key_id"] as? String)
        let secret = try #require(created.json["secret_access_key"] as? String)
        #expect(secret.count == 40 && created.json["create_buckets"] as? Bool == false)
        #expect(created.header("Location") == "/v1/access-keys/\(id)")
        #expect(try await app.request("GET", "/v1/access-keys/\(id)").json["secret_access_key"] == nil)
        #expect(try await app.request("GET", "/v1/access-keys/AKNOSUCHKEY").status == 404)
        let patched = try await app.request("PATCH", "/v1/access-keys/\(id)", json: ["permissions": ["photos": "write", "logs": "owner"]])
        #expect(patched.status == 200 && (patched.json["permissions"] as? [String: String]) == ["photos": "write", "logs": "owner"])
        listed = try await app.request("GET", "/v1/access-keys")
        #expect((listed.json["access_keys"] as? [[String: Any]])?.count == 2)

        // A deleted volume takes its permissions with it (so a new volume of that name starts bare).
        #expect(try await app.request("DELETE", "/v1/volumes/logs").status == 204)
        #expect((try await app.request("GET", "/v1/access-keys/\(id)").json["permissions"] as? [String: String]) == ["photos": "write"])

        // Secrets are sealed: neither the new key's nor the first one's is in the catalog's files.
        let stored = try Self.catalogBytes(app.dataDir)
        #expect(stored.range(of: Data(secret.utf8)) == nil)
        #expect(stored.range(of: Data(defaultSecret.utf8)) == nil)

        // A restart keeps the keys and the credentials file (no second default key).
        app.stop(removeData: false)
        let again = try ApplianceProcess(dataDir: app.dataDir)
        defer { again.stop() }
        #expect(try String(contentsOfFile: credentials, encoding: .utf8) == text)
        #expect((try await again.request("GET", "/v1/access-keys").json["access_keys"] as? [[String: Any]])?.count == 2)
        #expect(try await again.request("DELETE", "/v1/access-keys/\(id)").status == 204)
        #expect(try await again.request("DELETE", "/v1/access-keys/\(id)").status == 404)
        #expect((try await again.request("GET", "/v1/access-keys").json["access_keys"] as? [[String: Any]])?.count == 1)
        try? FileManager.default.removeItem(at: app.dataDir)
    }

    @Test func theS3ListenerCanBeTurnedOff() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        defer { app.stop() }
        #expect(app.s3URL == nil)
        #expect(try await app.request("GET", "/healthz").status == 200)
    }
}
