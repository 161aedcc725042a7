// S3's XML: a small writer for answers (escaped text, the S3 namespace on the root). Request
// bodies are parsed in XMLNode.swift.
import Foundation

struct S3XML {
    static let namespace = "http://s3.amazonaws.com/doc/2006-03-01/"
    /// Written as bytes (a String appended to piece by piece was half of a 1,000-key listing).
    private(set) var bytes: [UInt8] = Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8)

    /// Opens an element; `namespaced` puts S3's namespace on it (answers' root elements).
    mutating func open(_ name: String, namespaced: Bool = false) {
        bytes.append(UInt8(ascii: "<"))
        bytes += name.utf8
        if namespaced {
            bytes += " xmlns=\"".utf8
            bytes += Self.namespace.utf8
            bytes.append(UInt8(ascii: "\""))
        }
        bytes.append(UInt8(ascii: ">"))
    }

    mutating func close(_ name: String) {
        bytes += "</".utf8
        bytes += name.utf8
        bytes.append(UInt8(ascii: ">"))
    }

    /// Markup written as it is (already escaped).
    mutating func raw(_ markup: String) { bytes += markup.utf8 }

    /// Text inside the open element.
    mutating func text(_ value: String) { Self.appendEscaped(value, to: &bytes) }

    mutating func element(_ name: String, _ value: String) {
        open(name)
        text(value)
        close(name)
    }

    mutating func element(_ name: String, _ value: some BinaryInteger) { element(name, String(value)) }

    mutating func element(_ name: String, _ value: Bool) { element(name, value ? "true" : "false") }

    /// `value` as XML text.
    static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        appendEscaped(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// `value` as XML text, appended: `& < > " '` as entities; control characters other than LF
    /// and TAB as character references (they are not allowed in XML 1.0 as themselves, and a CR
    /// would reach the client as LF: parsers normalize line ends, so a key "a\r\nb" is written
    /// `a&#xd;\nb`); every other byte as it is.
    static func appendEscaped(_ value: String, to out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out += "&amp;".utf8
            case UInt8(ascii: "<"): out += "&lt;".utf8
            case UInt8(ascii: ">"): out += "&gt;".utf8
            case UInt8(ascii: "\""): out += "&quot;".utf8
            case UInt8(ascii: "'"): out += "&apos;".utf8
            case 0x0A, 0x09: out.append(byte)
            case 0..<0x20: out += "&#x\(String(byte, radix: 16));".utf8
            default: out.append(byte)
            }
        }
    }

    /// An XML answer.
    static func response(_ xml: S3XML, status: Int = 200, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/xml")] + headers, body: xml.bytes)
    }
}
