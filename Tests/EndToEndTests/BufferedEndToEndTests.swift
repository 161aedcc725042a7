// Buffered IO over HTTP: async durability with reservations, PATCH with Content-Range, flush,
// direct and buffered on the same object, and the cache figures in JSON and /metrics.
import Foundation
import Testing

@Suite struct BufferedEndToEndTests {
    @Test func asyncPutIsReadableReservedThenFlushedToZero() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, replicas: 2)
        let data = ObjectEndToEndTests.randomData(100_000)
        let put = try await app.request("PUT", "/v1/volumes/objs/objects/a?durability=async", body: data)
        #expect(put.status == 201)
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        let reserved = volume["reserved_bytes"] as? Int ?? 0
        // Either still dirty (reserved: sectors x replicas) or already written back by the flusher.
        #expect(reserved == 0 || reserved == (100_000 + 511) / 512 * 512 * 2)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/a").body == data)
        let listed = try await app.request("GET", "/v1/volumes/objs/objects").json["objects"] as? [[String: Any]]
        #expect(listed?.first?["key"] as? String == "a", "an async write is listed before it is written back")
        #expect(listed?.first?["size"] as? Int == 100_000)
        #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204)
        let after = try await app.request("GET", "/v1/volumes/objs").json
        #expect(after["reserved_bytes"] as? Int == 0)
        #expect(after["dirty_pages"] as? Int == 0)
        #expect(after["used_bytes"] as? Int == 100_000)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/a?io=direct").body == data)
        let header = try await app.request("PUT", "/v1/volumes/objs/objects/b", body: data, headers: ["X-Durability": "async"])
        #expect(header.status == 201)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/c?durability=later", body: data).status == 400)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/c?io=sideways", body: data).status == 400)
        #expect(try await app.request("POST", "/v1/volumes/nope/flush").status == 404)
    }

    @Test func patchWritesAtAnOffsetAndExtendsWithZeros() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        var model = ObjectEndToEndTests.randomData(10_000)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/disk", body: model).status == 201)
        let patches: [(Int, Int, String)] = [(100, 5, ""), (4090, 20, "?durability=async"), (0, 1, ""), (12_000, 700, "")]
        for (offset, length, query) in patches {
            let data = ObjectEndToEndTests.randomData(length)
            let response = try await app.request(
                "PATCH", "/v1/volumes/objs/objects/disk\(query)", body: data,
                headers: ["Content-Range": "bytes \(offset)-\(offset + length - 1)/*"])
            #expect(response.status == 200, "\(offset): \(response.text)")
            if model.count < offset + length { model += Data(count: offset + length - model.count) }
            model.replaceSubrange(offset..<offset + length, with: data)
            #expect(try await app.request("GET", "/v1/volumes/objs/objects/disk").body == model)
        }
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/disk?io=direct").body == model)
        #expect(try await app.request("GET", "/v1/volumes/objs").json["used_bytes"] as? Int == 12_700)
    }

    @Test func patchErrors() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        #expect(try await app.request("PUT", "/v1/volumes/objs/objects/x", body: Data(count: 8192)).status == 201)
        let one = Data([1])
        #expect(try await app.request("PATCH", "/v1/volumes/objs/objects/x", body: one).status == 400)
        #expect(try await app.request("PATCH", "/v1/volumes/objs/objects/x", body: one, headers: ["Content-Range": "bytes 5-4/*"]).status == 400)
        #expect(try await app.request("PATCH", "/v1/volumes/objs/objects/x", body: one, headers: ["Content-Range": "bytes 0-1/*"]).status == 400)
        #expect(try await app.request("PATCH", "/v1/volumes/objs/objects/x", body: one, headers: ["Content-Range": "items 0-0/*"]).status == 400)
        #expect(
            try await app.request("PATCH", "/v1/volumes/objs/objects/missing", body: one, headers: ["Content-Range": "bytes 0-0/*"]).status == 404)
        // Direct: offset and length must be block-aligned.
        let unaligned = try await app.request("PATCH", "/v1/volumes/objs/objects/x?io=direct", body: one, headers: ["Content-Range": "bytes 0-0/*"])
        #expect(unaligned.status == 400)
        let block = Data(repeating: 7, count: 4096)
        let aligned = try await app.request(
            "PATCH", "/v1/volumes/objs/objects/x?io=direct", body: block, headers: ["Content-Range": "bytes 4096-8191/*"])
        #expect(aligned.status == 200)
        var expected = Data(count: 4096)
        expected.append(block)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/x?io=direct").body == expected)
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/x").body == expected)
    }

    @Test func bufferedWritesOverQuotaAre507AndChangeNothing() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app, "tiny", capacity: 64 << 10)
        let data = ObjectEndToEndTests.randomData(60_000)
        #expect(try await app.request("PUT", "/v1/volumes/tiny/objects/a?durability=async", body: data).status == 201)
        let over = try await app.request(
            "PATCH", "/v1/volumes/tiny/objects/a", body: Data(count: 10_000), headers: ["Content-Range": "bytes 60000-69999/*"])
        #expect(over.status == 507)
        #expect(try await app.request("GET", "/v1/volumes/tiny/objects/a").body == data)
        #expect(try await app.request("PUT", "/v1/volumes/tiny/objects/b?durability=async", body: Data(count: 8000)).status == 507)
        #expect(try await app.request("POST", "/v1/volumes/tiny/flush").status == 204)
        #expect(try await app.request("GET", "/v1/volumes/tiny").json["reserved_bytes"] as? Int == 0)
    }

    @Test func cacheMetricsAreExposed() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        _ = try await app.request("PUT", "/v1/volumes/objs/objects/m?durability=async", body: ObjectEndToEndTests.randomData(50_000))
        _ = try await app.request("GET", "/v1/volumes/objs/objects/m")
        let text = try await app.request("GET", "/metrics", auth: false).text
        for family in [
            "appliance_volume_reserved_bytes{volume=\"objs\"}", "appliance_volume_dirty_pages{volume=\"objs\"}",
            "appliance_volume_dirty_bytes{volume=\"objs\"}", "appliance_volume_writeback_pages{volume=\"objs\"}",
            "appliance_volume_cached_pages{volume=\"objs\"}", "appliance_volume_cache_hits_total{volume=\"objs\"}",
            "appliance_volume_cache_misses_total{volume=\"objs\"}", "appliance_pool_reservable_bytes ",
            "appliance_writeback_bytes_total ", "appliance_writeback_throttled_total ", "appliance_writeback_errors_total ",
            "appliance_volume_mode_written_bytes_total{volume=\"objs\",mode=\"buffered\"} 50000",
        ] {
            #expect(text.contains(family), "missing \(family)")
        }
        let hits = text.split(separator: "\n").first { $0.hasPrefix("appliance_volume_cache_hits_total{volume=\"objs\"}") }
        #expect(hits.map { !$0.hasSuffix(" 0") } == true, "a read of just-written data is a cache hit")
    }

    /// The cache's memory is bounded by its size however much goes through it: pages that are
    /// evicted, replaced or deleted give their frames back (an upload that kept its staged pages
    /// alive once grew the process by every object written).
    @Test func cacheMemoryStaysBoundedUnderChurn() async throws {
        let cacheBytes = 16 << 20
        let app = try ApplianceProcess(extraArguments: ["--cache-size", String(cacheBytes)])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        func gauge(_ name: String) async throws -> Int? {
            let text = try await app.request("GET", "/metrics", auth: false).text
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) }
        }
        #expect(try await gauge("appliance_cache_capacity_bytes") == cacheBytes)
        let data = ObjectEndToEndTests.randomData(3 << 20)  // Under a quarter of the cache: buffered, not spilled.
        for i in 0..<24 {
            let key = "churn-\(i % 6)"
            let put = try await app.request("PUT", "/v1/volumes/objs/objects/\(key)?durability=async", body: data)
            #expect(put.status == 201 || put.status == 200)
            if i % 3 == 2 { #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204) }
            if i % 4 == 3 { #expect(try await app.request("GET", "/v1/volumes/objs/objects/churn-\((i + 5) % 6)").status == 200) }
        }
        #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204)
        // 72 MiB went through a 16 MiB cache: its frames stay within the capacity plus one
        // upload's staging, rounded up to 8 MiB slabs.
        let memory = try #require(try await gauge("appliance_cache_memory_bytes"))
        #expect(memory <= cacheBytes + (16 << 20), "cache memory \(memory >> 20) MiB for a \(cacheBytes >> 20) MiB cache")
        // A PATCH is staged whole before it is applied: one over a quarter of the cache is refused up front.
        let patch = try await app.request(
            "PATCH", "/v1/volumes/objs/objects/churn-0", body: Data(count: 5 << 20), headers: ["Content-Range": "bytes 0-\((5 << 20) - 1)/*"])
        #expect(patch.status == 413, "\(patch.text)")
        #expect(try await app.request("GET", "/v1/volumes/objs/objects/churn-0").body == data)
        for i in 0..<6 { #expect(try await app.request("DELETE", "/v1/volumes/objs/objects/churn-\(i)").status == 204) }
        #expect(try await gauge("appliance_cache_used_bytes") == 0, "frames still held after every object was deleted")
    }

    /// Uploads being received count against the cache like cached pages: many at once cannot
    /// make the cache's memory outgrow its size (the ones that find no room go to disk directly),
    /// and each still stores exactly what was sent.
    @Test func concurrentUploadsStayWithinTheCache() async throws {
        let cacheBytes = 16 << 20
        let app = try ApplianceProcess(extraArguments: ["--cache-size", String(cacheBytes)])
        defer { app.stop() }
        try await ObjectEndToEndTests.makeVolume(app)
        let port = app.baseURL.port!
        let size = 3 << 20  // Each under a quarter of the cache: staged, not spilled up front.
        let bodies = (0..<10).map { _ in ObjectEndToEndTests.randomData(size) }
        // Ten uploads send all but their last byte and wait: 30 MiB staged at once if nothing stopped it.
        var connections: [RawConnection] = []
        for (i, body) in bodies.enumerated() {
            let connection = try RawConnection(port: port)
            try connection.sendHead("PUT", "/v1/volumes/objs/objects/c\(i)?durability=async", token: app.token, headers: ["Content-Length: \(size)"])
            try connection.send(body.prefix(size - 1))
            connections.append(connection)
        }
        func gauge(_ name: String) async throws -> Int? {
            let text = try await app.request("GET", "/metrics", auth: false).text
            return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) }
        }
        // Wait until the server has taken in what was sent (its frames are in use), then look.
        var used = 0
        for _ in 0..<100 {
            used = try await gauge("appliance_cache_used_bytes") ?? 0
            if used >= cacheBytes / 2 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        let memory = try #require(try await gauge("appliance_cache_memory_bytes"))
        #expect(
            memory <= cacheBytes + (8 << 20), "cache memory \(memory >> 20) MiB for a \(cacheBytes >> 20) MiB cache while 30 MiB are being uploaded")
        for (connection, body) in zip(connections, bodies) { try connection.send(body.suffix(1)) }
        for (i, body) in bodies.enumerated() {
            var got = Data()
            for _ in 0..<100 {
                let response = try await app.request("GET", "/v1/volumes/objs/objects/c\(i)")
                if response.status == 200 {
                    got = response.body
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(got == body, "upload c\(i) stored something else (\(got.count) bytes)")
        }
        connections.removeAll()
        #expect(try await app.request("POST", "/v1/volumes/objs/flush").status == 204)
        let volume = try await app.request("GET", "/v1/volumes/objs").json
        #expect(volume["reserved_bytes"] as? Int == 0)
        #expect(volume["used_bytes"] as? Int == 10 * size)
    }
}
