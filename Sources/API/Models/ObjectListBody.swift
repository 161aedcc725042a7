// The body of a listing page (openapi.yaml: ObjectList), written straight into bytes: exactly what
// `HTTPResponse.json` (JSONEncoder, sorted keys, slashes unescaped) writes for `ObjectListJSON`,
// without its generic encoding machinery, which was half of a 1,000-key page (~24,000
// instructions an object). ObjectListBodyTests compare the two byte for byte.
extension ObjectListJSON {
    var body: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + objects.count * 160)
        out += #"{"next_start_after":"#.utf8
        if let next = nextStartAfter { JSONText.appendString(next, to: &out) } else { out += "null".utf8 }
        out += #","objects":["#.utf8
        for (i, object) in objects.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += #"{"content_type":"#.utf8
            JSONText.appendString(object.contentType, to: &out)
            out += #","etag":"#.utf8
            JSONText.appendString(object.etag, to: &out)
            out += #","key":"#.utf8
            JSONText.appendString(object.key, to: &out)
            out += #","last_modified":"#.utf8
            JSONText.appendString(object.lastModified, to: &out)
            out += #","size":"#.utf8
            out += String(object.size).utf8
            out.append(UInt8(ascii: "}"))
        }
        out += "]}".utf8
        return out
    }
}

/// JSON text as JSONEncoder writes it (with `.withoutEscapingSlashes`).
enum JSONText {
    /// `text` as a JSON string: quoted; `"` and `\` escaped, control characters as `\b \f \n \r \t`
    /// or `\u00XX`; everything else (slashes and non-ASCII included) as its UTF-8.
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var start = 0  // the run of bytes not yet appended, written as they are
            for (i, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                appendEscaped(byte, to: &out)
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func appendEscaped(_ byte: UInt8, to out: inout [UInt8]) {
        let escape = UInt8(ascii: "\\")
        switch byte {
        case 0x08: out += [escape, UInt8(ascii: "b")]
        case 0x0C: out += [escape, UInt8(ascii: "f")]
        case 0x0A: out += [escape, UInt8(ascii: "n")]
        case 0x0D: out += [escape, UInt8(ascii: "r")]
        case 0x09: out += [escape, UInt8(ascii: "t")]
        case 0..<0x20:
            let digits: StaticString = "0123456789abcdef"
            digits.withUTF8Buffer { digits in
                out += [escape, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), digits[Int(byte >> 4)], digits[Int(byte & 15)]]
            }
        default: out += [escape, byte]  // `"` and `\`
        }
    }
}
