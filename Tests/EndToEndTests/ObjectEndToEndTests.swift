// Objects against the real binary: sizes, ranges, preconditions, digests, quota, keys, restart.
import Crypto
import Foundation
import Testing

@Suite struct ObjectEndToEndTests {
    static func randomData(_ count: Int) -> Data {
        var generator = SystemRandomNumberGenerator()
        var data = Data(count: count)
        data.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= count {
                raw.storeBytes(of: generator.next() as UInt64, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                raw[i] = UInt8.random(in: 0...255)
                i += 1
            }
        }
        return data
    }

    static func makeVolume(_ app: ApplianceProcess, _ name: String = "objs", capacity: Int = 1 << 30, replicas: Int = 1) async throws {
        let response = try await app.request("POST", "/v1/volumes", json: ["name": name, "capacity_bytes": capacity, "replicas": replicas])
        #expect(response.status == 201)
    }

    @Test func roundTripsEverySize() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app, replicas: 2)
        for size in [0, 1, 4095, 4096, 4097, (1 << 20) + 7, (4 << 20) + 1, 9 << 20] {
            let data = Self.randomData(size)
            let put = try await app.request(
                "PUT", "/v1/volumes/objs/objects/size-\(size)", body: data, headers: ["Content-Type": "application/x-test"])
            #expect(put.status == 201, "PUT \(size): \(put.text)")
            #expect(put.json["size"] as? Int == size)
            let get = try await app.request("GET", "/v1/volumes/objs/objects/size-\(size)")
            #expect(get.status == 200)
            #expect(get.header("Content-Length") == String(size))
            #expect(get.header("Content-Type") == "application/x-test")
            #expect(get.header("ETag") == put.header("ETag"))
            #expect(get.header("Accept-Ranges") == "bytes")
            #expect(get.header("Last-Modified")?.hasSuffix("GMT") == true)
            #expect(SHA256.hash(data: get.body) == SHA256.hash(data: data), "content of \(size)")
        }
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        #expect(volume["object_count"] as? Int == 8)
        let pool = try await app.request("GET", "/v1/pool").json
        #expect((pool["allocated_bytes"] as? Int ?? 0) > 2 * (14 << 20))
    }

    @Test func a256MiBObjectStreamsBothWays() async throws {
        let app = try ApplianceProcess(extraArguments: ["--device-size", String(1 << 30)])
        defer { app.stop() }
        try await Self.makeVolume(app, capacity: 1 << 30)
        let data = Self.randomData(256 << 20)
        let put = try await app.request("PUT", "/v1/volumes/objs/objects/big", body: data)
        #expect(put.status == 201)
        let get = try await app.request("GET", "/v1/volumes/objs/objects/big")
        #expect(get.body.count == data.count)
        #expect(SHA256.hash(data: get.body) == SHA256.hash(data: data))
    }

    @Test func rangesAndPreconditions() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app)
        let data = Self.randomData(10_000)
        let etag = try #require(try await app.request("PUT", "/v1/volumes/objs/objects/r", body: data).header("ETag"))
        let cases: [(String, Int, Range<Int>?, String?)] = [
            ("bytes=0-0", 206, 0..<1, "bytes 0-0/10000"),
            ("bytes=9999-", 206, 9999..<10000, "bytes 9999-9999/10000"),
            ("bytes=-10", 206, 9990..<10000, "bytes 9990-9999/10000"),
            ("bytes=4090-4200", 206, 4090..<4201, "bytes 4090-4200/10000"),
            ("bytes=9000-20000", 206, 9000..<10000, "bytes 9000-9999/10000"),
            ("bytes=-20000", 206, 0..<10000, "bytes 0-9999/10000"),
            ("bytes=10000-", 416, nil, "bytes */10000"),
            ("bytes=0-1,5-6", 200, 0..<10000, nil),
            ("items=0-1", 200, 0..<10000, nil),
        ]
        for (range, status, slice, contentRange) in cases {
            let response = try await app.request("GET", "/v1/volumes/objs/objects/r", headers: ["Range": range])
            #expect(response.status == status, "\(range)")
            #expect(response.header("Content-Range") == contentRange, "\(range)")
            if let slice { #expect(response.body == data.subdata(in: slice), "\(range)") }
        }
        let notModified = try await app.request("GET", "/v1/volumes/objs/objects/r", headers: ["If-None-Match": etag])
        #expect(notModified.status == 304)
        #expect(notModified.header("Content-Length") == nil || notModified.header("Content-Length") == "10000")
        #expect(notModified.header("ETag") == etag)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/r", headers: ["If-None-Match": "\"other\""]).status == 200)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/r", headers: ["If-Match": "\"other\""]).status == 412)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/r", headers: ["If-Match": etag]).status == 200)
        let head = try await app.request("HEAD", "/v1/volumes/objs/objects/r")
        #expect(head.status == 200)
        #expect(head.header("Content-Length") == "10000")
        #expect(head.body.isEmpty)
        // HEAD reads nothing: the same headers whether the object is cached or read direct.
        let directHead = try await app.request("HEAD", "/v1/volumes/objs/objects/r?io=direct", headers: ["Range": "bytes=100-199"])
        #expect(directHead.status == 206)
        #expect(directHead.header("Content-Length") == "100")
        #expect(directHead.header("Content-Range") == "bytes 100-199/10000")
        #expect(directHead.header("ETag") == etag)
    }

    @Test func digestsAreVerifiedAndAMismatchKeepsTheOldVersion() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app)
        let first = Self.randomData(5000)
        let md5 = Data(Insecure.MD5.hash(data: first)).base64EncodedString()
        let sha = SHA256.hash(data: first).map { String(format: "%02x", $0) }.joined()
        let put = try await app.request("PUT", "/v1/volumes/objs/objects/d", body: first, headers: ["Content-MD5": md5, "x-checksum-sha256": sha])
        #expect(put.status == 201)
        let second = Self.randomData(7000)
        let bad = try await app.request("PUT", "/v1/volumes/objs/objects/d", body: second, headers: ["Content-MD5": md5])
        #expect(bad.status == 400)
        let badSHA = try await app.request("PUT", "/v1/volumes/objs/objects/d", body: second, headers: ["x-checksum-sha256": sha])
        #expect(badSHA.status == 400)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/d", body: second, headers: ["Content-MD5": "nope"]).status == 400)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/d").body == first)
        let replaced = try await app.request("PUT", "/v1/volumes/objs/objects/d", body: second)
        #expect(replaced.status == 200)
        #expect(replaced.header("ETag") != put.header("ETag"))
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/d").body == second)
    }

    @Test func quotaAndPoolSpaceGive507AndLeaveNothing() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app, "small", capacity: 1 << 20)
        let before = try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int
        let tooBig = try await app.request("PUT", "/v1/volumes/small/objects/x", body: Self.randomData(2 << 20))
        #expect(tooBig.status == 507)
        #expect(try await app.request("GET", "/v1/volumes/small/objects/x").status == 404)
        #expect(try await app.request("PUT", "/v1/volumes/small/objects/a", body: Self.randomData(600_000)).status == 201)
        #expect(try await app.request("PUT", "/v1/volumes/small/objects/b", body: Self.randomData(600_000)).status == 507)
        // Overwriting the same key credits the old version against the quota.
        #expect(try await app.request("PUT", "/v1/volumes/small/objects/a", body: Self.randomData(900_000)).status == 200)
        #expect(try await app.request("GET", "/v1/volumes/small").json["used_bytes"] as? Int == 900_000)

        try await Self.makeVolume(app, "huge", capacity: 1 << 40)
        let free = try #require(try await app.request("GET", "/v1/pool").json["free_bytes"] as? Int)
        let overPool = try await app.request("PUT", "/v1/volumes/huge/objects/y", body: Data(count: free + 4096))
        #expect(overPool.status == 507)
        let after = try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int
        #expect(after == (before ?? 0) + 901_120)
    }

    @Test func keysAndListing() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app)
        let keys = ["a/b/c.txt", "a/b/d.txt", "a/e", "b", "sp ace", "üñî€", "per%cent"]
        for key in keys {
            let encoded = key.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "%")))!
            let put = try await app.request("PUT", "/v1/volumes/objs/objects/\(encoded)", body: Data(key.utf8))
            #expect(put.status == 201, "\(key)")
            #expect(try await app.request("GET", "/v1/volumes/objs/objects/\(encoded)").body == Data(key.utf8))
        }
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/x%2Fy", body: Data("slash".utf8)).status == 201)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/x/y").body == Data("slash".utf8))
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/\(String(repeating: "k", count: 1025))", body: Data()).status == 400)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/nul%00", body: Data()).status == 400)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/bad%ff", body: Data()).status == 400)
        #expect(try await app.request("PUT", "/v1/volumes/nope/objects/k", body: Data("x".utf8)).status == 404)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/missing").status == 404)

        let prefixed = try await app.request("GET", "/v1/volumes/objs/objects?prefix=a/")
        let names = (prefixed.json["objects"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
        #expect(names == ["a/b/c.txt", "a/b/d.txt", "a/e"])
        var all: [String] = []
        var after: String?
        repeat {
            var path = "/v1/volumes/objs/objects?limit=3"
            if let after { path += "&start_after=" + after.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
            let page = try await app.request("GET", path).json
            all += (page["objects"] as? [[String: Any]] ?? []).compactMap { $0["key"] as? String }
            after = page["next_start_after"] as? String
        } while after != nil
        #expect(all == (keys + ["x/y"]).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        #expect(try await app.request("GET", "/v1/volumes/objs/objects?limit=0").status == 400)

        #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/a/e").status == 204)
        #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/a/e").status == 404)
        #expect(try await app.request("DELETE", "/v1/volumes/objs").status == 409)
        #expect(try await app.request("DELETE", "/v1/volumes/objs?force=true").status == 204)
        #expect(try await app.request("GET", "/v1/pool").json["allocated_bytes"] as? Int == 0)
    }

    @Test func chunkedUploadsWork() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await Self.makeVolume(app)
        let data = Self.randomData((5 << 20) + 123)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("chunked-\(UUID().uuidString)")
        try data.write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        curl.arguments = [
            "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "Authorization: Bearer \(app.token)",
            "-H", "Transfer-Encoding: chunked", "--data-binary", "@\(file.path)", app.baseURL.absoluteString + "/v1/volumes/objs/objects/chunked",
        ]
        let out = Pipe()
        curl.standardOutput = out
        try curl.run()
        curl.waitUntilExit()
        #expect(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "201")
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/chunked").body == data)
    }
}
