// A response: status, headers, and a buffered or streamed body.
import Foundation

package struct HTTPResponse: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
    /// When set, the body comes from here instead of `body`.
    package var stream: (any ResponseBodyStream)?
    /// When set, the body is sent from these buffers without copying.
    package var segments: (any ResponseBodySegments)?

    package init(
        status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], stream: (any ResponseBodyStream)? = nil,
        segments: (any ResponseBodySegments)? = nil
    ) {
        self.status = status
        self.headers = headers
        self.body = body
        self.stream = stream
        self.segments = segments
    }

    package func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    package static func json<T: Encodable>(_ value: T, status: Int = 200, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
        return HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    package static func noContent() -> HTTPResponse { HTTPResponse(status: 204) }
}
