// The data directory holds the keys, the catalog's lock and shared memory (a map of the catalog's
// WAL) and the record of the devices: the directory is 0700 and its files 0600, also when the
// directory or the files existed before with looser modes.
import Foundation
import Testing

@Suite struct PermissionsEndToEndTests {
    static func mode(_ url: URL) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attributes[.posixPermissions] as? Int ?? -1) & 0o777
    }

    static func expectPrivate(_ dir: URL) throws {
        let dirMode = try mode(dir)
        #expect(dirMode == 0o700, "the data directory is \(String(dirMode, radix: 8))")
        for name in ["catalog.lock", "catalog.lock-shm", "devices.json", "token", "s3-credentials", "s3-secrets.key", "lock"] {
            let file = dir.appendingPathComponent(name)
            #expect(FileManager.default.fileExists(atPath: file.path), "\(name) is missing")
            let fileMode = try mode(file)
            #expect(fileMode == 0o600, "\(name) is \(String(fileMode, radix: 8))")
        }
    }

    @Test func aDataDirectoryThatExistedOpenIsMadePrivate() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dataDir.path)
        let app = try ApplianceProcess(dataDir: dataDir)
        try Self.expectPrivate(dataDir)
        #expect(app.stop(removeData: false) == 0)
    }

    @Test func aCatalogLeftReadableByOthersIsMadePrivateAtTheNextStart() async throws {
        let dataDir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let first = try ApplianceProcess(dataDir: dataDir)
        #expect(try await first.request("POST", "/v1/volumes", json: ["name": "photos", "capacity_bytes": 1 << 20]).status == 201)
        #expect(first.stop(removeData: false) == 0)
        for name in ["", "catalog.lock", "catalog.lock-shm", "devices.json"] {
            let path = dataDir.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) {
                try FileManager.default.setAttributes([.posixPermissions: name.isEmpty ? 0o755 : 0o644], ofItemAtPath: path)
            }
        }
        let second = try ApplianceProcess(dataDir: dataDir)
        try Self.expectPrivate(dataDir)
        #expect(try await second.request("GET", "/v1/volumes/photos").status == 200)
        #expect(second.stop(removeData: false) == 0)
    }
}
