// Many transfers at once, and clients that stall mid-transfer, must not hold up anyone else: the
// event loops never wait (disk work runs on workers while the connection is suspended). The
// limits are generous (the tests run beside every other suite on a small machine): a blocked
// event loop would hold these requests until the stalled clients time out (minutes), not seconds.
import Foundation
import Glibc
import Testing

@Suite struct ConcurrencyTests {
    /// Runs `body`, expecting an answer within `limit`; returns the result.
    static func prompt(_ limit: Duration, _ what: String, _ body: () async throws -> HTTPResult) async throws -> HTTPResult {
        let start = ContinuousClock.now
        let result = try await body()
        let took = ContinuousClock.now - start
        #expect(took < limit, "\(what) took \(took)")
        return result
    }

    /// The pool's `reserved_bytes`, read until it is `target` (uploads given up are released
    /// by their workers shortly after) or 5 s have passed.
    static func poolReservation(_ app: ApplianceProcess, settlingTo target: Int) async throws -> Int? {
        var reserved: Int?
        for _ in 0..<50 {
            reserved = try await app.request("GET", "/v1/pool").json["reserved_bytes"] as? Int
            if reserved == target { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return reserved
    }

    @Test func stalledUploadsAndDownloadsHoldUpNoOne() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        let big = ObjectEndToEndTests.randomData(16 << 20)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/big", body: big).status == 201)
        let port = try #require(app.baseURL.port)

        // Uploads that send the headers and 1 MiB of an 8 MiB body, then stop sending.
        var stalled: [RawConnection] = []
        for i in 0..<8 {
            let connection = try RawConnection(port: port)
            let mode = i % 2 == 0 ? "buffered" : "direct"
            try connection.sendHead(
                "PUT", "/v1/volumes/objs/objects/stalled-\(i)?io=\(mode)", token: app.token, headers: ["Content-Length: \(8 << 20)"])
            try connection.send(Data(repeating: UInt8(i), count: 1 << 20))
            stalled.append(connection)
        }
        // Downloads of 16 MiB from disk whose clients never read.
        for _ in 0..<8 {
            let connection = try RawConnection(port: port)
            try connection.sendHead("GET", "/v1/volumes/objs/objects/big?io=direct", token: app.token)
            stalled.append(connection)
        }
        try await Task.sleep(for: .milliseconds(300))

        let health = try await Self.prompt(.seconds(10), "healthz") { try await app.request("GET", "/healthz", auth: false) }
        #expect(health.status == 200)
        let pool = try await Self.prompt(.seconds(10), "pool") { try await app.request("GET", "/v1/pool") }
        #expect(pool.status == 200)
        let small = ObjectEndToEndTests.randomData(100_000)
        let put = try await Self.prompt(.seconds(10), "small PUT") { try await app.request("PUT", "/v1/volumes/objs/objects/small", body: small) }
        #expect(put.status == 201)
        let get = try await Self.prompt(.seconds(10), "small GET") { try await app.request("GET", "/v1/volumes/objs/objects/small?io=direct") }
        #expect(get.body == small)
        let whole = try await Self.prompt(.seconds(20), "16 MiB GET") { try await app.request("GET", "/v1/volumes/objs/objects/big?io=direct") }
        #expect(whole.body == big)

        // The stalled clients give up: their uploads leave nothing behind.
        stalled.removeAll()
        #expect(try await Self.poolReservation(app, settlingTo: 0) == 0)
        let keys = (try await app.request("GET", "/v1/volumes/objs/objects").json["objects"] as? [[String: Any]])?.compactMap { $0["key"] as? String }
        #expect(keys?.sorted() == ["big", "small"])
    }

    @Test func smallBodiesTakenWholeBeforeTheirWorkerAreRightAndACutOneLeavesNothing() async throws {
        // A body of at most 64 KiB is read whole on the event loop before a worker opens its upload.
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        let port = try #require(app.baseURL.port)
        // Cut mid-body: no upload was ever opened, so nothing is reserved or written.
        var cut: RawConnection? = try RawConnection(port: port)
        try cut!.sendHead("PUT", "/v1/volumes/objs/objects/cut", token: app.token, headers: ["Content-Length: 60000"])
        try cut!.send(Data(repeating: 7, count: 20_000))
        try await Task.sleep(for: .milliseconds(200))
        cut = nil
        // Whole bodies of every size around the limit, sync and async, in one connection each; a
        // body sent in pieces with pauses between them.
        for size in [0, 1, 4096, 65_535, 65_536, 65_537, 200_000] {
            let data = ObjectEndToEndTests.randomData(size)
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/s\(size)", body: data).status == 201)
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/a\(size)?durability=async", body: data).status == 201)
            #expect(try await app.request("GET", "/v1/volumes/objs/objects/s\(size)").body == data)
            #expect(try await app.request("GET", "/v1/volumes/objs/objects/a\(size)").body == data)
        }
        let pieces = ObjectEndToEndTests.randomData(30_000)
        let slow = try RawConnection(port: port)
        try slow.sendHead("PUT", "/v1/volumes/objs/objects/pieces", token: app.token, headers: ["Content-Length: \(pieces.count)"])
        for start in stride(from: 0, to: pieces.count, by: 10_000) {
            try slow.send(pieces[start..<start + 10_000])
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(slow.receive().hasPrefix("HTTP/1.1 201"))
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/pieces").body == pieces)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/cut").status == 404)
        #expect(try await Self.poolReservation(app, settlingTo: 0) == 0)
    }

    @Test func uploadsOverObjectsStillBeingWrittenBackAreRight() async throws {
        // Opening these waits for the earlier async write's writeback, so they are opened on a
        // worker, and a refusal comes back once the body has started.
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        let first = ObjectEndToEndTests.randomData(8 << 20)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/o?durability=async", body: first).status == 201)
        let refused = try await app.request(
            "PUT", "/v1/volumes/objs/objects/o", body: ObjectEndToEndTests.randomData(1 << 20), headers: ["Content-MD5": "not base64"])
        #expect(refused.status == 400)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/o").body == first)
        let second = ObjectEndToEndTests.randomData((8 << 20) + 3)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/o?durability=async", body: second).status == 200)
        let patch = Data(repeating: 0x5A, count: 4096)
        let patched = try await app.request("PATCH", "/v1/volumes/objs/objects/o", body: patch, headers: ["Content-Range": "bytes 4096-8191/*"])
        #expect(patched.status == 200)
        var expected = second
        expected.replaceSubrange(4096..<8192, with: patch)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/o").body == expected)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/o?io=direct").body == expected)
    }

    @Test func manyTransfersAtOnceKeepTheControlPlanePrompt() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let objects = (0..<16).map { ObjectEndToEndTests.randomData((3 << 20) + $0 * 4099) }
        for (i, data) in objects.enumerated() {
            #expect(try await app.request("PUT", "/v1/volumes/objs/objects/read-\(i)", body: data).status == 201)
        }
        let slowest = try await withThrowingTaskGroup(of: Duration.self) { group in
            for (i, data) in objects.enumerated() {
                // Uploads: sync and async, buffered and direct; each then read back.
                group.addTask {
                    let query = ["", "?durability=async", "?io=direct", "?io=buffered"][i % 4]
                    let put = try await app.request("PUT", "/v1/volumes/objs/objects/write-\(i)\(query)", body: data)
                    #expect(put.status == 201)
                    let back = try await app.request("GET", "/v1/volumes/objs/objects/write-\(i)")
                    #expect(back.body == data, "write-\(i) read back different bytes")
                    return .zero
                }
                // Downloads, cached and direct, whole and ranged.
                group.addTask {
                    let query = i % 2 == 0 ? "" : "?io=direct"
                    let get = try await app.request("GET", "/v1/volumes/objs/objects/read-\(i)\(query)")
                    #expect(get.body == data, "read-\(i) came back different")
                    let ranged = try await app.request(
                        "GET", "/v1/volumes/objs/objects/read-\(i)\(query)", headers: ["Range": "bytes=1000000-2000000"])
                    #expect(ranged.status == 206)
                    #expect(ranged.body == data.subdata(in: 1_000_000..<2_000_001))
                    return .zero
                }
            }
            group.addTask {
                var slowest = Duration.zero
                for _ in 0..<20 {
                    let start = ContinuousClock.now
                    #expect(try await app.request("GET", "/healthz", auth: false).status == 200)
                    #expect(try await app.request("GET", "/v1/pool").status == 200)
                    slowest = max(slowest, ContinuousClock.now - start)
                    try await Task.sleep(for: .milliseconds(20))
                }
                return slowest
            }
            var slowest = Duration.zero
            for try await took in group { slowest = max(slowest, took) }
            return slowest
        }
        #expect(slowest < .seconds(10), "healthz + pool took \(slowest) while transfers ran")
        #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204)
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        #expect(volume["dirty_pages"] as? Int == 0)
        #expect(volume["reserved_bytes"] as? Int == 0)
    }

    /// A client that sends part of a body and hangs up at once (its FIN arriving with its last
    /// bytes) gives back its upload's space within seconds, not at the connection timeout, and
    /// leaves nothing behind; in every IO mode.
    @Test func aClientThatHangsUpMidUploadLeavesNothingBehind() async throws {
        // The body timeout far beyond the wait below: only noticing the hang-up can free the space in time.
        let app = try ApplianceProcess(extraArguments: ["--body-timeout", "600"])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, capacity: 8 << 20)
        let port = app.baseURL.port!
        for query in ["", "?io=direct", "?durability=async"] {
            for sent in [0, 1000, 300_000] {
                // Content-Length 6 MiB is reserved (out of 8 MiB) before a byte is stored.
                let connection = try RawConnection(port: port)
                try connection.sendHead("PUT", "/v1/volumes/objs/objects/gone\(query)", token: app.token, headers: ["Content-Length: \(6 << 20)"])
                if sent > 0 { try connection.send(ObjectEndToEndTests.randomData(sent)) }
                shutdown(connection.fd, Int32(SHUT_RDWR))
                // Until the abandoned upload lets go of its reservation, a second 6 MiB upload is a 507.
                var status = 0
                // Seconds when alone; the generous bound is for a machine busy with the other suites.
                let deadline = ContinuousClock.now + .seconds(45)
                while ContinuousClock.now < deadline {
                    status = try await app.request("PUT", "/v1/volumes/objs/objects/next", body: ObjectEndToEndTests.randomData(6 << 20)).status
                    if status == 201 || status == 200 { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(status == 201 || status == 200, "\(query) after \(sent) bytes: the abandoned upload still holds its space (\(status))")
                #expect(try await app.request("GET", "/v1/volumes/objs/objects/gone").status == 404)
                #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/next").status == 204)
            }
        }
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        #expect(volume["reserved_bytes"] as? Int == 0)
        #expect(volume["used_bytes"] as? Int == 0)
    }

    /// An upload refused half way (here: a chunked body that outgrows the volume) is answered
    /// after the rest of its body has been read, so the client gets the 507 rather than a reset,
    /// and the connection can carry the next request.
    @Test func anUploadRefusedMidBodyIsAnsweredCleanly() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, capacity: 4 << 20)
        let connection = try RawConnection(port: app.baseURL.port!)
        try connection.sendHead("PUT", "/v1/volumes/objs/objects/big?io=direct", token: app.token, headers: ["Transfer-Encoding: chunked"])
        let chunk = ObjectEndToEndTests.randomData(1 << 20)
        for _ in 0..<12 {  // 12 MiB into a 4 MiB volume
            try connection.send(String(chunk.count, radix: 16) + "\r\n")
            try connection.send(chunk)
            try connection.send("\r\n")
        }
        try connection.send("0\r\n\r\n")
        let answer = connection.receive()
        #expect(answer.hasPrefix("HTTP/1.1 507"), "\(answer.prefix(200))")
        #expect(answer.contains("insufficient-storage"))
        // The same connection serves the next request.
        try connection.sendHead("GET", "/healthz")
        #expect(connection.receive().hasPrefix("HTTP/1.1 200"))
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/big").status == 404)
        #expect(try await app.request("GET", "/v1/volumes/objs").json["reserved_bytes"] as? Int == 0)
    }
}
