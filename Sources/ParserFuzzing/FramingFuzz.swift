// The request head's framing (RequestFraming.check) and the numbers taken from the wire
// (WireNumber), checked against a plain reference parse.
import API
import Engine

enum FramingFuzz {
    /// Flags (1: no target, 4: the route has a body limit), then the
    /// target, Content-Length, Transfer-Encoding (`-`: absent), the body limit and the drop limit.
    static func framing(_ input: inout FuzzInput) {
        let flags = input.byte()
        let target = input.string()
        let contentLength = input.optionalString()
        let transferEncoding = input.optionalString()
        let bodyLimit = Int(input.size())
        let dropLimit = Int(input.size())
        let result = RequestFraming.check(
            target: flags & 1 == 0 ? target : nil, contentLength: contentLength,
            transferEncoding: transferEncoding, bodyLimit: flags & 4 != 0 ? bodyLimit : nil, dropLimit: dropLimit)
        guard case .success(let framing) = result else { return }
        ParserFuzzing.require(!(framing.chunked && contentLength != nil), "chunked with a Content-Length")
        if let length = framing.expectedLength {
            let limit = flags & 4 != 0 ? Int64(max(bodyLimit, dropLimit)) : Engine.maxObjectBytes
            ParserFuzzing.require((0...limit).contains(length), "Content-Length \(length) outside 0...\(limit)")
        }
    }

    /// The limit, then the text.
    static func wireNumber(_ input: inout FuzzInput) {
        let limit = input.size()
        let text = input.string()
        let parsed = WireNumber.parse(text, limit: limit)
        // Reference: trim spaces and tabs, all ASCII digits, then the standard library's Int64.
        var digits = Substring(text).utf8[...]
        while let first = digits.first, first == 0x20 || first == 0x09 { digits = digits.dropFirst() }
        while let last = digits.last, last == 0x20 || last == 0x09 { digits = digits.dropLast() }
        let expected: WireNumber
        if digits.isEmpty || !digits.allSatisfy({ (0x30...0x39).contains($0) }) {
            expected = .malformed
        } else if let value = Int64(String(decoding: digits, as: UTF8.self)), value <= limit {
            expected = .value(value)
        } else {
            expected = .tooLarge
        }
        ParserFuzzing.require(parsed == expected, "WireNumber.parse(\(text.debugDescription), limit: \(limit)) is \(parsed), not \(expected)")
        let bounded: Int64? = if case .value(let value) = expected { value } else { nil }
        ParserFuzzing.require(WireNumber.bounded(text, limit: limit) == bounded, "WireNumber.bounded disagrees with parse")
    }
}
