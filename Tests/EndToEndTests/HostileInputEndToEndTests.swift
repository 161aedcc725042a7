// Hostile input against the real binary: a 20,000-deep XML body (DeleteObjects,
// CompleteMultipartUpload, CreateBucket) is a 400 MalformedXML and the process keeps serving (it
// died of SIGSEGV); keys with NFD accents and CRLF list once each and the listing ends (it
// answered bogus prefixes and a continuation token that repeated forever).
import Foundation
import Testing

@Suite struct HostileInputEndToEndTests {
    static func nested(_ depth: Int, root: String, leaf: String) -> [UInt8] {
        Array(("<\(root)>" + String(repeating: "<\(leaf)>", count: depth) + String(repeating: "</\(leaf)>", count: depth) + "</\(root)>").utf8)
    }

    static func expectMalformed(_ result: HTTPResult, _ what: String) {
        #expect(result.status == 400, "\(what): \(result.status) \(result.text.prefix(300))")
        #expect(result.text.contains("<Code>MalformedXML</Code>"), "\(what): \(result.text.prefix(300))")
    }

    @Test func deepXMLIsRefusedAndTheProcessServesOn() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let s3 = try S3Client(app)
        #expect(try s3.request("PUT", "/deep").status == 200)

        let deep = Self.nested(20_000, root: "Delete", leaf: "Object")
        let delete = try s3.request("POST", "/deep", query: [("delete", nil)], body: deep, headers: [S3Client.contentMD5(deep)])
        Self.expectMalformed(delete, "DeleteObjects")

        let created = try s3.request("POST", "/deep/big", query: [("uploads", nil)])
        #expect(created.status == 200)
        let uploadID = try #require(S3Client.elements("UploadId", in: created.text).first)
        let complete = try s3.request(
            "POST", "/deep/big", query: [("uploadId", uploadID)], body: Self.nested(20_000, root: "CompleteMultipartUpload", leaf: "Part"))
        Self.expectMalformed(complete, "CompleteMultipartUpload")

        let bucket = try s3.request("PUT", "/deeper", body: Self.nested(20_000, root: "CreateBucketConfiguration", leaf: "LocationConstraint"))
        Self.expectMalformed(bucket, "CreateBucket")

        // Still alive, still serving both listeners; a well-formed delete works.
        #expect(app.process.isRunning)
        #expect(try await app.request("GET", "/healthz").status == 200)
        #expect(try s3.request("PUT", "/deep/k", body: [1, 2, 3]).status == 200)
        let body = Array("<Delete><Object><Key>k</Key></Object></Delete>".utf8)
        let deleted = try s3.request("POST", "/deep", query: [("delete", nil)], body: body, headers: [S3Client.contentMD5(body)])
        #expect(deleted.status == 200 && deleted.text.contains("<Deleted><Key>k</Key></Deleted>"), "\(deleted.text)")
        #expect(try s3.request("POST", "/deep/big", query: [("uploadId", uploadID)]).status != 200)  // An empty body is malformed too.
        #expect(app.process.isRunning)
    }

    /// Pages a ListObjects (v1 or v2, encoding-type=url) to the end; nil when it does not end
    /// within `maxPages`.
    static func listAll(_ s3: S3Client, v2: Bool, prefix: String, delimiter: String, maxKeys: Int, maxPages: Int) throws -> [String]? {
        var entries: [String] = []
        var marker: String?
        for _ in 0..<maxPages {
            var query: [(String, String?)] = [("prefix", prefix), ("delimiter", delimiter), ("max-keys", String(maxKeys)), ("encoding-type", "url")]
            if v2 { query.append(("list-type", "2")) }
            if let marker { query.append((v2 ? "continuation-token" : "marker", marker)) }
            let page = try s3.request("GET", "/names", query: query)
            #expect(page.status == 200, "\(page.text)")
            let listed = S3Client.listed(page.text)
            entries += listed.keys.map { "key " + $0 } + listed.prefixes.map { "prefix " + $0 }
            guard page.text.contains("<IsTruncated>true</IsTruncated>") else { return entries }
            marker = S3Client.elements(v2 ? "NextContinuationToken" : "NextMarker", in: page.text).first
                .flatMap { v2 ? $0 : $0.removingPercentEncoding }
            #expect(marker != nil)
        }
        return nil
    }

    @Test func nfdAndCRLFKeysListOnceAndTheListingEnds() async throws {
        let app = try ApplianceProcess()
        defer { app.stop() }
        let s3 = try S3Client(app)
        #expect(try s3.request("PUT", "/names").status == 200)
        let keys = ["e\u{0301}/a", "e\u{0301}/b", "e/c", "\u{E9}/d", "ea", "a\r\nb/c", "a\r\nb/d", "a\rb/e", "a\nb"]
        for key in keys {
            let put = try s3.request("PUT", "/names/" + key, body: Array(key.utf8))
            #expect(put.status == 200, "\(key.debugDescription): \(put.text)")
        }
        // In byte order: "e/" 65 2F < "ea" 65 61 < "e\u{301}/" 65 CC 81 2F ("\u{E9}/" is C3 A9 2F, not under "e").
        let underE = ["prefix e/", "key ea", "prefix e\u{0301}/"]
        let underA = ["key a\nb", "prefix a\r\nb/", "prefix a\rb/"]  // "a\nb" has no "/": a key.
        for v2 in [true, false] {
            for maxKeys in [1, 2, 1000] {
                let e = try #require(
                    try Self.listAll(s3, v2: v2, prefix: "e", delimiter: "/", maxKeys: maxKeys, maxPages: 10), "v2 \(v2) max-keys \(maxKeys): endless"
                )
                #expect(
                    Set(e.map { Array($0.utf8) }) == Set(underE.map { Array($0.utf8) }) && e.count == underE.count,
                    "v2 \(v2) max-keys \(maxKeys): \(e)")
                let a = try #require(
                    try Self.listAll(s3, v2: v2, prefix: "a", delimiter: "/", maxKeys: maxKeys, maxPages: 10), "v2 \(v2) max-keys \(maxKeys): endless"
                )
                #expect(
                    Set(a.map { Array($0.utf8) }) == Set(underA.map { Array($0.utf8) }) && a.count == underA.count,
                    "v2 \(v2) max-keys \(maxKeys): \(a)")
            }
        }
        // Without a delimiter every key comes back once, byte for byte, also through the native listing.
        let all = try #require(try Self.listAll(s3, v2: true, prefix: "", delimiter: "", maxKeys: 2, maxPages: 10))
        #expect(all.map { Array($0.utf8) } == keys.map { Array(("key " + $0).utf8) }.sorted { $0.lexicographicallyPrecedes($1) })
        let native = try await app.request("GET", "/v1/volumes/names/objects?prefix=e&limit=1000")
        let nativeKeys = (native.json["objects"] as? [[String: Any]])?.compactMap { $0["key"] as? String } ?? []
        #expect(nativeKeys.map { Array($0.utf8) } == ["e/c", "ea", "e\u{0301}/a", "e\u{0301}/b"].map { Array($0.utf8) }, "\(native.text)")
        #expect(app.process.isRunning)
    }
}
