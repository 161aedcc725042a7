import Engine
import Foundation
import Logging
import Testing

// The native listing (GET /v1/volumes/{name}/objects?prefix=&start_after=&limit=) through the
// router, in process, against the byte-wise model: keys with NFD accents, CR/LF, emoji and
// U+10FFFF (some only in the cache), random prefixes and start_after, paged to the end.
@testable import API

@Suite struct ObjectHandlersListTests {
    static let token = String(repeating: "t", count: 32)

    /// One page: the keys (as bytes) and `next_start_after`.
    static func list(_ router: Router, prefix: String, startAfter: String?, limit: Int) throws -> ([[UInt8]], String?) {
        var query: [(name: String, value: String?)] = [("prefix", SigV4.uriEncode(prefix)), ("limit", String(limit))]
        if let startAfter { query.append(("start_after", SigV4.uriEncode(startAfter))) }
        let request = HTTPRequest(
            method: "GET", path: "/v1/volumes/\(ListingEngine.volume)/objects", query: query, headers: ["Authorization": "Bearer \(token)"])
        let response = router.respond(to: request, context: RequestContext(requestID: "t", logger: Logger(label: "t")))
        try #require(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let objects = try #require(json["objects"] as? [[String: Any]])
        return (try objects.map { Array(try #require($0["key"] as? String).utf8) }, json["next_start_after"] as? String)
    }

    @Test(arguments: [UInt64(3), 4])
    func listingsMatchTheByteModel(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        let fixture = try ListingEngine()
        let model = ListingModel(keys: ListingEngine.distinctKeys(150, &random))
        try fixture.store(model.keys)
        let router = Routes.makeRouter(engine: fixture.engine, token: Self.token, metrics: HTTPMetrics())
        for trial in 0..<100 {
            let prefix = model.randomPrefix(&random)
            let limit = [1, 2, 3, 7, 1000].randomElement(using: &random)!
            let startAfter = Int.random(in: 0..<4, using: &random) == 0 ? model.randomPrefix(&random) : ""
            let context = "seed \(seed) trial \(trial): prefix \(prefix.debugDescription) start_after \(startAfter.debugDescription) limit \(limit)"
            let expected = model.keys.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
                .filter { $0.starts(with: Array(prefix.utf8)) && startAfter.utf8.lexicographicallyPrecedes($0) }
            var listed: [[UInt8]] = []
            var cursor: String? = startAfter.isEmpty ? nil : startAfter
            var pages = 0
            while true {
                let (keys, next) = try Self.list(router, prefix: prefix, startAfter: cursor, limit: limit)
                pages += 1
                listed += keys
                #expect(keys.count <= limit, "\(context)")
                guard let next else { break }
                try #require(pages <= expected.count, "\(context): more pages than keys")
                cursor = next
            }
            #expect(listed == expected, "\(context)")
        }
    }
}
