// Open multipart uploads are bounded: a bucket holds at most --multipart-max-open of them (past
// it CreateMultipartUpload answers 503 SlowDown naming the limit), and with --multipart-expiry an
// upload older than that is aborted in the background and its parts' space freed.
import Foundation
import Testing

@Suite struct MultipartLimitsEndToEndTests {
    static func uploadID(_ response: HTTPResult) -> String? {
        guard let range = response.text.range(of: #"<UploadId>[^<]+</UploadId>"#, options: .regularExpression) else { return nil }
        return String(response.text[range].dropFirst("<UploadId>".count).dropLast("</UploadId>".count))
    }

    static func makeBucket(_ app: ApplianceProcess, _ name: String) async throws {
        #expect(try await app.request("POST", "/v1/volumes", json: ["name": name, "capacity_bytes": 64 << 20]).status == 201)
    }

    @Test func aBucketHoldsAtMostTheLimitOfOpenUploads() async throws {
        let app = try ApplianceProcess(extraArguments: ["--multipart-max-open", "3"])
        defer { app.stop() }
        try await Self.makeBucket(app, "busy")
        try await Self.makeBucket(app, "quiet")
        var ids: [String] = []
        for index in 0..<3 {
            let created = try await app.s3("POST", "/busy/file-\(index)", query: [("uploads", "")])
            #expect(created.status == 200, "\(created.text)")
            ids.append(try #require(Self.uploadID(created)))
        }
        let refused = try await app.s3("POST", "/busy/one-more", query: [("uploads", "")])
        #expect(refused.status == 503)
        #expect(refused.text.contains("<Code>SlowDown</Code>"), "\(refused.text)")
        #expect(refused.text.contains("3 open multipart uploads"), "\(refused.text)")
        let listed = try await app.s3("GET", "/busy", query: [("uploads", "")])
        #expect(listed.text.components(separatedBy: "<Upload>").count - 1 == 3, "\(listed.text)")

        // The limit is per bucket, and an abort makes room.
        #expect(try await app.s3("POST", "/quiet/file", query: [("uploads", "")]).status == 200)
        #expect(try await app.s3("DELETE", "/busy/file-0", query: [("uploadId", ids[0])]).status == 204)
        #expect(try await app.s3("POST", "/busy/one-more", query: [("uploads", "")]).status == 200)
    }

    @Test func uploadsOlderThanTheExpiryAreAbortedAndTheirSpaceFreed() async throws {
        // 30 s: long enough that the part is stored and counted before the upload expires even when
        // the machine is busy with other suites (3 s and 10 s were not), short enough for a test.
        let app = try ApplianceProcess(extraArguments: ["--multipart-expiry", "30s"])
        defer { app.stop() }
        try await Self.makeBucket(app, "parts")
        let created = try await app.s3("POST", "/parts/big", query: [("uploads", "")])
        let id = try #require(Self.uploadID(created))
        let part = [UInt8](repeating: 0x5A, count: 1 << 20)
        let stored = try await app.s3("PUT", "/parts/big", query: [("partNumber", "1"), ("uploadId", id)], body: part)
        #expect(stored.status == 200, "\(stored.text)")
        // Counted while the upload is open (on a loaded machine the expiry may already have taken it).
        let used = try await app.request("GET", "/v1/volumes/parts").json["used_bytes"] as? Int
        let stillOpen = try await app.s3("GET", "/parts", query: [("uploads", "")]).text.contains(id)
        #expect(used == part.count || (!stillOpen && used == 0), "used_bytes \(String(describing: used)), open: \(stillOpen)")

        let deadline = Date().addingTimeInterval(90)
        var listed = try await app.s3("GET", "/parts", query: [("uploads", "")])
        while listed.text.contains(id), Date() < deadline {
            try await Task.sleep(for: .milliseconds(250))
            listed = try await app.s3("GET", "/parts", query: [("uploads", "")])
        }
        #expect(!listed.text.contains(id), "the upload outlived its expiry: \(listed.text)")
        #expect(try await app.request("GET", "/v1/volumes/parts").json["used_bytes"] as? Int == 0)
        let late = try await app.s3("PUT", "/parts/big", query: [("partNumber", "2"), ("uploadId", id)], body: part)
        #expect(late.status == 404 && late.text.contains("NoSuchUpload"), "\(late.text)")
    }

    @Test func aMalformedExpiryIsRefusedAtStart() throws {
        let dir = ApplianceProcess.makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        for bad in ["7x", "-1h", "soon"] {
            let process = Process()
            process.executableURL = ApplianceProcess.binary
            process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data-dir", dir.path, "--multipart-expiry", bad]
            let stderr = Pipe()
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            let output = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus != 0, "\(bad) was accepted")
            #expect(output.contains("multipart-expiry"), "\(bad): \(output)")
        }
    }
}
