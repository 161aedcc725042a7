import Foundation
import Logging
import Testing

// ListObjects v1, v2 and ListObjectVersions through the S3 router, in process, against the
// byte-wise model: keys with NFD accents, CR/LF, emoji and U+10FFFF, random prefixes (cut inside a
// grapheme too), delimiters, markers and page sizes, paged to the end. Listing "e\u{301}/a" with
// prefix "e" and delimiter "/" used to answer 1,000 bogus "e/" prefixes and a token that never ended.
@testable import API
@testable import Engine

@Suite struct S3ListHandlersTests {
    /// Lets every request through as the given key (the signature is SigV4Tests' business).
    struct SignedAs: Middleware {
        let principal: S3Principal
        func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
            var context = context
            context.s3 = principal
            return try next(request, context)
        }
    }

    static func router(_ fixture: ListingEngine) throws -> Router {
        let keys = try AccessKeyStore(engine: fixture.engine, keyFile: fixture.directory.appending(path: "s3-secrets.key").path)
        let key = try keys.create(name: "test", permissions: ["*": .owner], createBuckets: true)
        var router = Router(errorResponse: { S3ErrorMapping.response(for: $0, context: $1) })
        router.use(SignedAs(principal: S3Principal(key: key, signingKeyBytes: [], amzDate: "", scope: "", signature: "", payloadHash: "")))
        S3Handlers(engine: fixture.engine, keys: keys, settings: S3Settings()).register(in: &router)
        return router
    }

    struct Page {
        var entries: [ListingModel.Entry]
        var truncated: Bool
        var next: String?
    }

    /// The three listings: ListObjects v1, v2 and ListObjectVersions.
    enum ListStyle { case v1, v2, versions }

    static func list(_ router: Router, _ arguments: [(String, String)], style: ListStyle, urlEncoded: Bool) throws -> Page {
        var query = arguments.map { (name: $0.0, value: Optional(SigV4.uriEncode($0.1))) }
        switch style {
        case .v2: query.append((name: "list-type", value: "2"))
        case .v1: break
        case .versions: query.append((name: "versions", value: nil))
        }
        if urlEncoded { query.append((name: "encoding-type", value: "url")) }
        let response = router.respond(
            to: HTTPRequest(method: "GET", path: "/\(ListingEngine.volume)", query: query),
            context: RequestContext(requestID: "t", logger: Logger(label: "t")))
        guard response.status == 200 else { throw S3Error("Unexpected", response.status, String(decoding: response.body, as: UTF8.self)) }
        let root = try XMLNode.parse(response.body)
        func text(_ node: XMLNode?) throws -> [UInt8] {
            let raw = node?.text ?? ""
            guard urlEncoded else { return Array(raw.utf8) }
            return Array(try #require(PercentDecoding.decode(raw)).utf8)
        }
        var entries: [ListingModel.Entry] = []
        for child in root.children {
            switch child.name {
            case "Contents", "Version": entries.append(.key(try text(child.child("Key"))))
            case "CommonPrefixes": entries.append(.prefix(try text(child.child("Prefix"))))
            default: continue
            }
        }
        var next = root.child("NextContinuationToken")?.text
        if style != .v2, let marker = root.child(style == .v1 ? "NextMarker" : "NextKeyMarker") {
            next = String(decoding: try text(marker), as: UTF8.self)
        }
        return Page(entries: entries, truncated: root.child("IsTruncated")?.text == "true", next: next)
    }

    @Test(arguments: [UInt64(1), 2])
    func listingsMatchTheByteModel(seed: UInt64) throws {
        var random = SplitMix(state: seed)
        let fixture = try ListingEngine()
        let model = ListingModel(keys: ListingEngine.distinctKeys(150, &random))
        try fixture.store(model.keys)
        let router = try Self.router(fixture)
        for trial in 0..<100 {
            let style = [ListStyle.v1, .v2, .versions].randomElement(using: &random)!
            let urlEncoded = Bool.random(using: &random)
            let prefix = model.randomPrefix(&random)
            let delimiter = Int.random(in: 0..<4, using: &random) == 0 ? "" : ListingModel.delimiters.randomElement(using: &random)!
            let maxKeys = [1, 2, 3, 7, 1000].randomElement(using: &random)!
            let marker = Int.random(in: 0..<4, using: &random) == 0 ? model.randomPrefix(&random) : ""
            let context =
                "seed \(seed) trial \(trial): \(style) prefix \(prefix.debugDescription) delimiter \(delimiter.debugDescription) marker \(marker.debugDescription) max-keys \(maxKeys)"

            var expected = ListingModel(keys: model.keys.filter { marker.utf8.lexicographicallyPrecedes($0.utf8) })
                .entries(prefix: prefix, delimiter: delimiter)
            // A marker naming a common prefix: that prefix was listed (a `next` marker names it so).
            let markerIsListedPrefix = expected.first == .prefix(Array(marker.utf8))
            if markerIsListedPrefix { expected.removeFirst() }

            var arguments = [("prefix", prefix), ("delimiter", delimiter), ("max-keys", String(maxKeys))]
            if !marker.isEmpty { arguments.append((style == .v2 ? "start-after" : style == .v1 ? "marker" : "key-marker", marker)) }
            var listed: [ListingModel.Entry] = []
            var pages = 0
            while true {
                let page = try Self.list(router, arguments, style: style, urlEncoded: urlEncoded)
                pages += 1
                listed += page.entries
                #expect(page.entries.count <= maxKeys, "\(context)")
                guard page.truncated else { break }
                let next = try #require(page.next, "\(context): truncated without a next marker")
                try #require(pages <= expected.count, "\(context): more pages than entries (\(listed.prefix(5)) …)")
                arguments.removeAll { ["continuation-token", "marker", "key-marker", "start-after"].contains($0.0) }
                arguments.append((style == .v2 ? "continuation-token" : style == .v1 ? "marker" : "key-marker", next))
            }
            #expect(listed == expected, "\(context)")
            // Each key after the marker is listed once: as itself or under one common prefix.
            for key in model.keys where key.utf8.starts(with: prefix.utf8) && marker.utf8.lexicographicallyPrecedes(key.utf8) {
                let bytes = Array(key.utf8)
                let holders = listed.filter { entry in
                    switch entry {
                    case .key(let listedKey): listedKey == bytes
                    case .prefix(let common): bytes.starts(with: common)
                    }
                }
                let skipped = markerIsListedPrefix && bytes.starts(with: Array(marker.utf8))
                #expect(holders.count == (skipped ? 0 : 1), "\(context): \(key.debugDescription) listed \(holders.count) times")
            }
        }
    }

    /// The report's case, exactly: prefix "e", delimiter "/".
    @Test func nfdAccentsAndCRLFUnderAPrefix() throws {
        let fixture = try ListingEngine()
        let keys = ["e\u{0301}/a", "e/b", "\u{E9}/c", "ea", "a\r\nb/c", "a\rb/d"]
        try fixture.store(keys)
        let router = try Self.router(fixture)
        for style in [ListStyle.v1, .v2, .versions] {
            let page = try Self.list(router, [("prefix", "e"), ("delimiter", "/")], style: style, urlEncoded: false)
            // Byte order: "e/" (65 2F) < "ea" (65 61) < "e\u{301}/" (65 CC 81 2F).
            #expect(page.entries == [.prefix(Array("e/".utf8)), .key(Array("ea".utf8)), .prefix(Array("e\u{0301}/".utf8))])
            #expect(!page.truncated)
            let crlf = try Self.list(router, [("prefix", "a\r"), ("delimiter", "/")], style: style, urlEncoded: false)
            #expect(crlf.entries == [.prefix(Array("a\r\nb/".utf8)), .prefix(Array("a\rb/".utf8))])
        }
    }
}
