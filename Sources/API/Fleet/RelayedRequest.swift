// A small change for a volume another node serves, relayed whole by the worker that finishes it:
// a method whose answer is small (not GET or HEAD) with a body of at most `bodyLimit` bytes
// declared up front (or none). One thread carries it (`FleetRouting.relay`): no forwarding thread,
// no channels, none of their hand-offs, which were most of what forwarding a 4 KiB PUT cost.
// Everything else streams through `ForwardedRequest`.
import Engine
import Fleet

final class RelayedRequest: RequestBodySink, @unchecked Sendable {
    // @unchecked: `body` is a Lock; the rest is immutable.
    static let bodyLimit: Int64 = 64 << 10

    /// Whether `request` (its head) is relayed whole rather than streamed.
    static func fits(_ request: HTTPRequest) -> Bool {
        guard request.method != "GET", request.method != "HEAD", request.header("transfer-encoding") == nil else { return false }
        guard let declared = request.header("content-length") else { return true }
        return Int64(declared).map { (0...bodyLimit).contains($0) } ?? false
    }

    private let head: HTTPRequest
    private let body = Lock<[UInt8]>([])
    private let fleet: FleetRouting
    private let base: String
    private let node: String

    init(_ head: HTTPRequest, base: String, node: String, fleet: FleetRouting) {
        self.head = head
        self.base = base
        self.node = node
        self.fleet = fleet
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        body.withLock { $0.append(contentsOf: bytes) }
    }

    func finish() throws -> HTTPResponse {
        var whole = head
        whole.body = body.withLock { $0 }
        return try fleet.relay(whole, to: base, node: node)
    }

    func abort() {}
}
