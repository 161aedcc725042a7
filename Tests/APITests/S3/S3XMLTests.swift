import Testing

// Answers' XML: text comes back to a client's parser byte for byte, CR included (XML parsers turn
// a literal CR or CRLF into LF, so a key "a\r\nb" would come back as "a\nb").
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
}
