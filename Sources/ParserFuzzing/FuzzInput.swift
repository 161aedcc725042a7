// The fuzzer's bytes read as a parser's arguments: newline-separated fields (so that a corpus file
// is readable text), a flags byte, a request (method, path, query, headers, body), or the rest.
// Strings are decoded the way the server gets them: invalid UTF-8 repaired to U+FFFD.
package import API

package struct FuzzInput {
    private var bytes: ArraySlice<UInt8>

    package init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    package var isEmpty: Bool { bytes.isEmpty }

    /// One byte (0 once the input is used up).
    package mutating func byte() -> UInt8 {
        bytes.popFirst() ?? 0
    }

    /// The bytes up to the next newline (which is consumed), or to the end.
    package mutating func line() -> ArraySlice<UInt8> {
        guard let newline = bytes.firstIndex(of: 0x0A) else {
            defer { bytes = [] }
            return bytes
        }
        defer { bytes = bytes[(newline + 1)...] }
        return bytes[..<newline]
    }

    package mutating func string() -> String { String(decoding: line(), as: UTF8.self) }

    /// A field, nil when it is `-` alone (how a corpus file says "header absent").
    package mutating func optionalString() -> String? {
        let text = string()
        return text == "-" ? nil : text
    }

    /// A size or offset field: a decimal Int64 (negative values and garbage are 0).
    package mutating func size() -> Int64 {
        max(0, Int64(string()) ?? 0)
    }

    /// Everything left.
    package mutating func rest() -> [UInt8] {
        defer { bytes = [] }
        return Array(bytes)
    }

    /// A raw query line (`a=1&b&c=`): its arguments in order, a value nil for a name alone.
    package mutating func query() -> [(name: String, value: String?)] {
        string().split(separator: "&").map { pair in
            guard let eq = pair.firstIndex(of: "=") else { return (name: String(pair), value: nil) }
            return (name: String(pair[..<eq]), value: String(pair[pair.index(after: eq)...]))
        }
    }

    /// A request: a line each for the method and the raw path, a raw query (`a=1&b&c=`),
    /// `name: value` header lines up to an empty line, then the body.
    package mutating func request() -> HTTPRequest {
        let method = string()
        let path = string()
        let query = query()
        var headers: [String: String] = [:]
        while !isEmpty {
            let header = string()
            if header.isEmpty { break }
            guard let colon = header.firstIndex(of: ":") else { headers[header] = ""; continue }
            let value = header[header.index(after: colon)...].drop { $0 == " " }
            headers[String(header[..<colon])] = String(value)
        }
        return HTTPRequest(method: method, path: path, query: query, headers: headers, body: rest())
    }
}
