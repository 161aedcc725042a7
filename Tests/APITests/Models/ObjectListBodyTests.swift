import Foundation
import Testing

// The listing page's hand-written body must be, byte for byte, what JSONEncoder writes for the
// same page through `HTTPResponse.json`: for every ASCII character (controls, quotes, backslash,
// slash), non-ASCII up to U+10FFFF, empty pages and the last page's null.
@testable import API

@Suite struct ObjectListBodyTests {
    static func encoded(_ list: ObjectListJSON) -> [UInt8] { HTTPResponse.json(list).body }

    /// An object of a page (decoded: ObjectJSON is built from an engine's ObjectInfo otherwise).
    static func object(_ key: String, size: Int64 = 4096, contentType: String = "application/octet-stream") -> ObjectJSON {
        let fields: [String: Any] = [
            "key": key, "size": size, "etag": "\"d41d8cd98f00b204e9800998ecf8427e\"", "content_type": contentType,
            "last_modified": "2026-12-07T02:14:08Z",
        ]
        return try! JSONDecoder().decode(ObjectJSON.self, from: JSONSerialization.data(withJSONObject: fields))
    }

    @Test func everyCharacterIsWrittenAsJSONEncoderWritesIt() {
        var keys = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        keys += ["\u{7F}", "\u{80}", "\u{E9}", "e\u{301}", "\u{2028}", "\u{2029}", "\u{FEFF}", "\u{65E5}\u{672C}", "\u{1F600}", "\u{10FFFF}"]
        keys += ["a/b/c", "quote\"in\\side", "tab\there\nnew", ""]
        for key in keys {
            let list = ObjectListJSON(objects: [Self.object("k" + key + "k", contentType: "text/" + key)], nextStartAfter: key)
            #expect(list.body == Self.encoded(list), "key \(Array(key.unicodeScalars.map(\.value)))")
        }
    }

    @Test func pagesMatchJSONEncoder() {
        #expect(ObjectListJSON(objects: [], nextStartAfter: nil).body == Self.encoded(ObjectListJSON(objects: [], nextStartAfter: nil)))
        let page = ObjectListJSON(
            objects: (0..<50).map { Self.object("photos/\($0)/\u{65E5}-\($0).jpg", size: Int64($0) * 1_000_003) }, nextStartAfter: nil)
        #expect(page.body == Self.encoded(page))
        let large = ObjectListJSON(objects: [Self.object("max", size: .max), Self.object("zero", size: 0)], nextStartAfter: "zero")
        #expect(large.body == Self.encoded(large))
    }
}
