// S3's XML: a small writer for answers (escaped text, the S3 namespace on the root). Request
// bodies are parsed in XMLNode.swift.
import Foundation

struct S3XML {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    private(set) var text = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

    var bytes: [UInt8] { Array(text.utf8) }

    /// Opens an element; `namespaced` puts S3's namespace on it (answers' root elements).
    mutating func open(_ name: String, namespaced: Bool = false) {
        text += namespaced ? "<\(name) xmlns=\"\(Self.namespace)\">" : "<\(name)>"
    }

    mutating func close(_ name: String) { text += "</\(name)>" }

    /// Markup written as it is (already escaped).
    mutating func raw(_ markup: String) { text += markup }

    mutating func element(_ name: String, _ value: String) {
        text += "<\(name)>\(Self.escape(value))</\(name)>"
    }

    mutating func element(_ name: String, _ value: some BinaryInteger) { element(name, String(value)) }

    mutating func element(_ name: String, _ value: Bool) { element(name, value ? "true" : "false") }

    static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            // Control characters are not allowed in XML 1.0 as themselves; a CR would reach the
            // client as LF (parsers normalize line ends), so a key "a\r\nb" is written as a reference.
            case _ where character.value < 0x20 && character != "\n" && character != "\t":
                out += "&#x\(String(character.value, radix: 16));"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// An XML answer.
    static func response(_ xml: S3XML, status: Int = 200, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/xml")] + headers, body: xml.bytes)
    }
}
