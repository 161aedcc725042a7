// S3 request bodies (XMLNode.parse): any bytes give a tree within the limits, or MalformedXML.
import API

enum XMLFuzz {
    /// Flags (1: small limits, as a test would set them), then the document.
    static func parse(_ input: inout FuzzInput) {
        let (depth, count) = input.byte() & 1 != 0 ? (4, 50) : (32, 100_000)
        let limits = XMLNode.Limits(depth: depth, elements: count, bytes: 4 << 20)
        guard let root = try? XMLNode.parse(input.rest(), limits: limits) else { return }
        // Walked without recursion: the tree is checked, not trusted.
        var pending = [(root, 1)]
        var elements = 0
        while let (node, level) = pending.popLast() {
            elements += 1
            ParserFuzzing.require(level <= depth, "a tree \(level) deep")
            pending += node.children.map { ($0, level + 1) }
        }
        ParserFuzzing.require(elements <= count, "a tree of \(elements) elements")
    }
}
