// Hostile or mistaken device paths against the real binary: labels of other formats past the first
// 4 KiB are refused without force, and nothing inside the data directory (the catalog, its WAL, the
// keys) is accepted as a device, force or not.
import Foundation
import Testing

@Suite struct DeviceSafetyEndToEndTests {
    static let size: Int64 = 128 << 20

    /// A sparse file of `size` bytes whose first 4 KiB are zero, with `signature` at `offset`.
    static func labelledFile(in dir: URL, offset: Int64, signature: String) throws -> URL {
        let file = try ApplianceProcess.sparseFile(size: size, in: dir)
        let handle = try FileHandle(forWritingTo: file)
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(signature.utf8))
        try handle.close()
        return file
    }

    @Test func labelsPastTheFirst4KiBNeedForce() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        defer { app.stop() }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let labels: [(Int64, String)] = [
            (4096 + 4, "md 1.2 superblock \u{fc}N+\u{a9}"),
            (8192, "md 1.1 bitmap"),
            (32 << 10 | 1, "CD001"),  // ISO 9660 primary volume descriptor
            ((64 << 10) + 64, "_BHRfS_M"),  // btrfs superblock
            (256 << 10, "ZFS label 1"),
            (64 << 20 | 64, "_BHRfS_M mirror"),
            (Self.size - (512 << 10), "ZFS label 2"),
            (Self.size - (64 << 10), "md 0.90 superblock"),
            (Self.size - 512, "EFI PART backup GPT header"),
        ]
        for (offset, signature) in labels {
            let file = try Self.labelledFile(in: scratch, offset: offset, signature: signature)
            let before = try Data(contentsOf: file)
            let refused = try await app.request("POST", "/v1/devices", json: ["path": file.path])
            #expect(refused.status == 409, "\(signature) at \(offset): \(refused.text)")
            let detail = refused.json["detail"] as? String ?? ""
            #expect(detail.contains("force") && detail.contains("at byte \(offset)"), "\(detail)")
            #expect(try Data(contentsOf: file) == before, "a refused add changed \(signature)")
        }
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        #expect(devices.count == 2)
        let forced = try Self.labelledFile(in: scratch, offset: 4096, signature: "overwrite me")
        #expect(try await app.request("POST", "/v1/devices", json: ["path": forced.path, "force": true]).status == 201)
        let blank = try ApplianceProcess.sparseFile(size: Self.size, in: scratch)
        #expect(try await app.request("POST", "/v1/devices", json: ["path": blank.path]).status == 201)
    }

    @Test func nothingInsideTheDataDirectoryIsADeviceEvenWithForce() async throws {
        let app = try ApplianceProcess(extraArguments: ["--s3-listen", "off"])
        defer { app.stop() }
        let scratch = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let data = app.dataDir.resolvingSymlinksInPath()
        // A big enough file beside the catalog, so only where it lies can be the reason.
        let beside = try ApplianceProcess.sparseFile(size: Self.size, in: data, name: "beside.img")
        let link = scratch.appendingPathComponent("catalog-link")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: data.appendingPathComponent("devices.json"))
        let linkToBeside = scratch.appendingPathComponent("beside-link")
        try FileManager.default.createSymbolicLink(at: linkToBeside, withDestinationURL: beside)
        let paths = [
            data.appendingPathComponent("catalog.lock").path,
            data.appendingPathComponent("devices.json").path,
            data.appendingPathComponent("token").path,
            data.appendingPathComponent("s3-secrets.key").path,
            beside.path,
            data.path + "/devices/../beside.img",
            link.path,
            linkToBeside.path,
        ]
        for path in paths {
            for force in [false, true] {
                let refused = try await app.request("POST", "/v1/devices", json: ["path": path, "force": force])
                #expect(refused.status == 400, "\(path) force \(force): \(refused.text)")
                #expect((refused.json["detail"] as? String)?.contains("inside the data directory") == true, "\(path): \(refused.text)")
            }
        }
        let record = try Data(contentsOf: data.appendingPathComponent("devices.json"))
        #expect(try JSONSerialization.jsonObject(with: record) is [String: Any])
        let devices = try #require(try await app.request("GET", "/v1/devices").json["devices"] as? [[String: Any]])
        #expect(devices.count == 2)
        // The default devices' directory is the exception: a device file there can be added (back).
        let spare = try ApplianceProcess.sparseFile(size: Self.size, in: data.appendingPathComponent("devices"), name: "spare.img")
        #expect(try await app.request("POST", "/v1/devices", json: ["path": spare.path]).status == 201)
    }
}
