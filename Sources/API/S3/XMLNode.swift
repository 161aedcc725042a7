// S3 request bodies (CompleteMultipartUpload, Delete, CreateBucketConfiguration) parsed into a
// small tree, within limits: a hostile body (20,000 nested elements, a DTD with entities) is
// refused as MalformedXML while it is parsed, before the tree or the parser can grow with it.
import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A parsed XML element: its name (without namespace prefix), text and children.
package final class XMLNode {
    package let name: String
    package var text = ""
    package var children: [XMLNode] = []

    init(name: String) { self.name = name }

    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    var trimmedText: String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// What a body may hold. S3's bodies are shallow (Delete/Object/Key is 3 deep) and a
    /// CompleteMultipartUpload of 10,000 parts, each with a number, an ETag and checksums,
    /// is under 100,000 elements. Deeper nesting is refused as it opens: a tree (and its
    /// release, one frame per level) stays as shallow as `depth`.
    package struct Limits: Sendable {
        var depth: Int
        var elements: Int
        var bytes: Int

        package init(depth: Int = 32, elements: Int = 100_000, bytes: Int = 4 << 20) {
            (self.depth, self.elements, self.bytes) = (depth, elements, bytes)
        }
    }

    static let malformed = S3Error.malformedXML(
        "The XML you provided was not well-formed or did not validate against our published schema.")

    /// Parses a document; throws MalformedXML (also when it breaks `limits` or declares a DTD).
    package static func parse(_ bytes: [UInt8], limits: Limits = Limits()) throws(S3Error) -> XMLNode {
        guard bytes.count <= limits.bytes else {
            throw .malformedXML("The XML you provided is larger than \(limits.bytes) bytes.")
        }
        // No S3 body has a DTD; refusing it leaves no entity for libxml2 to expand (the parser
        // substitutes entities).
        guard !declaresDTD(bytes) else { throw .malformedXML("The XML you provided declares a DTD.") }
        // FoundationXML traps on a name, comment or processing instruction that is not UTF-8
        // (libxml2, recovering, hands it over as it is): found by the parser fuzzer, a comment
        // holding the byte 0xD0 stopped the server. An S3 body is UTF-8: anything else is refused.
        guard isUTF8(bytes) else { throw .malformedXML("The XML you provided is not valid UTF-8.") }
        // FoundationXML reads a processing instruction without data (`<?x?>`) through a NULL
        // pointer (found by the fuzzer too). No S3 body has one but the XML declaration.
        guard !hasProcessingInstruction(bytes) else { throw .malformedXML("The XML you provided has a processing instruction.") }
        let delegate = TreeBuilder(limits: limits)
        let parser = XMLParser(data: Data(bytes))
        parser.shouldResolveExternalEntities = false
        parser.delegate = delegate
        let parsed = parser.parse()
        if let exceeded = delegate.exceeded { throw exceeded }
        // libxml2 runs in recover mode and is never told the input ended: an element left open
        // is malformed too.
        guard parsed, delegate.stack.isEmpty, let root = delegate.root else { throw malformed }
        return root
    }

    private static func isUTF8(_ bytes: [UInt8]) -> Bool {
        var decoder = UTF8()
        var iterator = bytes.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    /// Whether `<?` occurs anywhere but in the XML declaration at the start (also inside a
    /// comment or CDATA, as for the DTD).
    private static func hasProcessingInstruction(_ bytes: [UInt8]) -> Bool {
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0  // A UTF-8 byte order mark.
        let declaration = Array("<?xml".utf8)
        if bytes[index...].starts(with: declaration), bytes.count > index + declaration.count,
            [0x20, 0x09, 0x0D, 0x0A].contains(bytes[index + declaration.count])
        {
            index += declaration.count
        }
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: "<"), bytes[index + 1] == UInt8(ascii: "?") { return true }
            index += 1
        }
        return false
    }

    /// Whether `<!DOCTYPE` occurs anywhere (also inside a comment or CDATA: no S3 body has one).
    private static func declaresDTD(_ bytes: [UInt8]) -> Bool {
        let needle = Array("<!DOCTYPE".utf8)
        var index = 0
        while index + needle.count <= bytes.count {
            if bytes[index] == UInt8(ascii: "<"), bytes[index + 1] == UInt8(ascii: "!"), bytes[index..<index + needle.count].elementsEqual(needle) {
                return true
            }
            index += 1
        }
        return false
    }
}

/// Builds the tree from the parser's events; stops the parser at the first element past a limit.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    let limits: XMLNode.Limits
    var root: XMLNode?
    var stack: [XMLNode] = []
    var elements = 0
    /// Set when a limit stopped the parse; every later event is ignored (libxml2's recover mode
    /// may deliver some after the stop).
    var exceeded: S3Error?

    init(limits: XMLNode.Limits) { self.limits = limits }

    private func stop(_ parser: XMLParser, _ error: S3Error) {
        exceeded = error
        parser.abortParsing()
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        guard exceeded == nil else { return }
        elements += 1
        if stack.count >= limits.depth {
            return stop(parser, .malformedXML("The XML you provided nests elements deeper than \(limits.depth)."))
        }
        if elements > limits.elements {
            return stop(parser, .malformedXML("The XML you provided has more than \(limits.elements) elements."))
        }
        let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
        let node = XMLNode(name: local)
        if let parent = stack.last { parent.children.append(node) } else { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        guard exceeded == nil else { return }
        _ = stack.popLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard exceeded == nil else { return }
        stack.last?.text += string
    }
}
