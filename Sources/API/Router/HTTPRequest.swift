// A request as the router sees it: independent of libmicrohttpd.
package struct HTTPRequest: Sendable {
    package var method: String
    /// The path routed (still percent-encoded), without the query: as sent, or with the bucket a
    /// virtual-host-style S3 request names in its Host header put first (`/bucket/key`).
    package var path: String
    /// The path as sent (what a SigV4 signature covers).
    package var sentPath: String
    /// Query arguments in order, raw (percent-encoded); a value is nil for `?flag` without `=`.
    package var query: [(name: String, value: String?)]
    /// Header names lowercased.
    package var headers: [String: String]
    package var body: [UInt8]

    package init(method: String, path: String, query: [(name: String, value: String?)] = [], headers: [String: String] = [:], body: [UInt8] = []) {
        self.init(
            method: method, path: path, query: query,
            lowercasedHeaders: Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { a, b in a + "," + b }), body: body)
    }

    /// With `headers` already keyed by lower-case names (as the server collects them).
    package init(method: String, path: String, query: [(name: String, value: String?)], lowercasedHeaders headers: [String: String], body: [UInt8]) {
        self.method = method
        self.path = path
        self.sentPath = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// The header `name` (any case); a name already in lower case (as callers write them) is
    /// looked up without lowercasing it first.
    package func header(_ name: String) -> String? {
        if let value = headers[name] { return value }
        for byte in name.utf8 where byte &- UInt8(ascii: "A") < 26 { return headers[name.lowercased()] }
        return nil
    }
}
