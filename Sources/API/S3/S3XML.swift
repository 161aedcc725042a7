// S3's XML: a small writer for answers (escaped text, the S3 namespace on the root) and a parser
// of request bodies (CompleteMultipartUpload, Delete, CreateBucketConfiguration) into a tree.
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

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
            // Control characters are not allowed in XML 1.0 as themselves.
            case _ where character.value < 0x20 && character != "\n" && character != "\t" && character != "\r":
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

/// A parsed XML element: its name (without namespace prefix), text and children.
final class XMLNode {
    let name: String
    var text = ""
    var children: [XMLNode] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Parses a document; throws MalformedXML.
    static func parse(_ bytes: [UInt8]) throws(S3Error) -> XMLNode {
        let delegate = TreeBuilder()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.delegate = delegate
        guard parser.parse(), let root = delegate.root else {
            throw .malformedXML("The XML you provided was not well-formed or did not validate against our published schema.")
        }
        return root
    }
}

private final class TreeBuilder: NSObject, XMLParserDelegate {
    var root: XMLNode?
    var stack: [XMLNode] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        let node = XMLNode(name: local)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }
}
