import Foundation
import Testing

// Answers' XML: text comes back to a client's parser byte for byte, CR included (XML parsers turn
// a literal CR or CRLF into LF, so a key "a\r\nb" would come back as "a\nb"). The fast paths
// (text that needs no reference; timestamps by arithmetic) write what the general ones write.
@testable import API

@Suite struct S3XMLTests {
    @Test(arguments: ["a\r\nb/c", "a\rb", "e\u{0301}/a", "<&>\"'", "tab\there", "\u{10FFFF}\u{1F600}"])
    func textRoundTrips(_ value: String) throws {
        var xml = S3XML()
        xml.open("Key")
        xml.text(value)
        xml.close("Key")
        #expect(Array(try XMLNode.parse(xml.bytes).text.utf8) == Array(value.utf8))
    }

    /// The escaping as it was written before it went to bytes: by Unicode scalar, into a String.
    static func escapeByScalars(_ value: String) -> String {
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case _ where character.value < 0x20 && character != "\n" && character != "\t": out += "&#x\(String(character.value, radix: 16));"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    @Test func escapeWritesWhatTheScalarWalkWrites() {
        var values = (0..<0x80).map { "k" + String(UnicodeScalar(UInt8($0))) + "k" }
        values += ["", "plain/key.txt", "\u{E9}\u{65E5}\u{1F600}\u{10FFFF}", "a&b", "a<b>c", "'\"", "line\nnext", "tab\t"]
        for value in values {
            #expect(S3XML.escape(value) == Self.escapeByScalars(value), "\(Array(value.utf8))")
        }
    }

    @Test func timestampsMatchTheFormatter() {
        var generator = SystemRandomNumberGenerator()
        let edges: [TimeInterval] = [0, -0.5, 951_782_400.999, 4_107_542_399.999, 1_796_000_000.123, 253_402_300_799.5, -30_610_224_000]
        let spread = (0..<20_000).map { _ in TimeInterval(Int64.random(in: -30_610_224_000_000..<253_402_300_800_000, using: &generator)) / 1000 }
        for seconds in edges + spread {
            let date = Date(timeIntervalSince1970: seconds)
            if S3Handlers.iso8601(date) != S3Handlers.iso8601ByFormat(date) {
                Issue.record("\(seconds): \(S3Handlers.iso8601(date)) vs \(S3Handlers.iso8601ByFormat(date))")
                return
            }
        }
    }
}
