// A request for a volume another node of the fleet serves, passed through to that node as it
// came: method, path and query as sent, headers (Host included, which S3 signatures cover), and
// the body streamed chunk by chunk while it arrives (never held whole). The owner reserves, checks
// and answers as for any request; its answer — status, headers, body streamed back — is this
// node's answer. The transfer runs on a thread of the fleet's forwarding pool: libcurl pulls the
// body from a `ByteChannel`, and pushes the answer's body straight into the server's download
// pump (an `AnswerRelay` holds it until the response is queued).
import Engine
import Fleet
import Foundation

/// Where a forwarded request goes.
package struct ForwardTarget: Sendable {
    package var volume: String
    /// The owner's node name and base URL; nil when the volume's pool has no live owner now.
    package var node: String?
    package var base: String?

    /// The route parameters the forwarding route carries them in.
    static let nodeParameter = "forward-node"
    static let baseParameter = "forward-base"
}

final class ForwardedRequest: RequestBodySink, @unchecked Sendable {
    // @unchecked: `head` is a Lock; the channels are Sendable; the rest is immutable.
    private enum Head {
        case waiting
        case arrived(status: Int, headers: [(name: String, value: String)])
        case failed(String)
    }

    private let body = ByteChannel()
    private let answer = AnswerRelay()
    private let head = Lock(Head.waiting)
    private let node: String
    private let isHead: Bool

    /// Headers that describe one connection, not the request: not passed along (curl frames the
    /// body itself: Content-Length as the client sent it, or chunked). `Expect` is passed: a
    /// client may have signed it.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection", "proxy-authorization", "content-length",
        "trailer",
    ]

    /// The headers a forwarded request carries: the client's but the hop-by-hop ones, and who forwarded it.
    static func passedHeaders(_ request: HTTPRequest, forwardedBy: String) -> [(name: String, value: String)] {
        request.headers.filter { !hopByHop.contains($0.key) }.map { (name: $0.key, value: $0.value) } + [(FleetRouting.forwardedHeader, forwardedBy)]
    }

    /// The headers of the owner's answer this node answers with: all but the hop-by-hop ones and
    /// `Date` (this node's server adds its own).
    static func answerHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        headers.filter { !hopByHop.contains($0.name.lowercased()) && $0.name.lowercased() != "date" }
    }

    /// Starts the transfer to `base` (the owner's URL) on one of `workers`' threads.
    init(_ request: HTTPRequest, base: String, node: String, forwardedBy: String, client: CurlClient, workers: WorkerPool) {
        self.node = node
        isHead = request.method == "HEAD"
        let url = base + request.sentPath + FleetRouting.query(request)
        let headers = Self.passedHeaders(request, forwardedBy: forwardedBy)
        let length = request.header("content-length").flatMap { Int64($0) }
        let chunked = request.header("transfer-encoding") != nil
        let sends: HTTPExchange.Body
        if length == nil && !chunked && ["GET", "HEAD", "DELETE", "OPTIONS"].contains(request.method) {
            sends = .none
        } else {
            sends = .stream(length: length ?? (chunked ? nil : 0)) { [body] buffer in try body.pull(into: buffer) }
        }
        var exchange = HTTPExchange(method: request.method, url: url, headers: headers, body: sends, timeout: nil)
        exchange.connectTimeout = 2
        workers.run(as: "forward") { [head, answer, exchange] in
            do {
                try client.perform(
                    exchange,
                    onHead: { status, headers in head.withLockWaking { $0 = .arrived(status: status, headers: headers) } },
                    onBody: { bytes in answer.push(bytes) })
            } catch {
                head.withLockWaking { state in
                    if case .waiting = state { state = .failed((error as? CurlError)?.message ?? "\(error)") }
                }
            }
            answer.end()
        }
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws {
        // The owner may have answered before taking the whole body (a refusal): the rest is dropped.
        body.push(bytes)
    }

    func finish() throws -> HTTPResponse {
        body.close()
        head.wait {
            if case .waiting = $0 { return false }
            return true
        }
        let arrived = head.withLock { $0 }
        guard case .arrived(let status, let headers) = arrived else {
            let why = if case .failed(let why) = arrived { why } else { "no answer" }
            throw HTTPError.badGateway("node \(node), which serves this volume, did not answer: \(why)")
        }
        let kept = Self.answerHeaders(headers)
        let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int64($0.value) } ?? 0
        if length == 0 {
            answer.cancel()
            return HTTPResponse(status: status, headers: kept)
        }
        return HTTPResponse(status: status, headers: kept, stream: ForwardedBody(length: length, answer: answer, sent: !isHead))
    }

    func abort() {
        body.cancel()
        answer.cancel()
    }
}

/// The owner's answer body, as it comes: pushed by the transfer's thread into the server's pump.
private final class ForwardedBody: PushedResponseBody, @unchecked Sendable {
    // @unchecked: immutable; the relay is Sendable.
    let length: Int64
    private let answer: AnswerRelay

    init(length: Int64, answer: AnswerRelay, sent: Bool) {
        self.length = length
        self.answer = answer
        if !sent { answer.cancel() }  // HEAD: the length is the answer; no body comes.
    }

    func deliver(to sink: any ResponseBodySink) { answer.attach(sink) }

    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        preconditionFailure("a pushed body is never read")
    }

    func close() { answer.cancel() }
}

/// Holds the transfer's body pushes until the server has queued the response and handed over its
/// pump (`attach`); then passes each straight on. The end (all came, or the transfer failed) is
/// passed on exactly once, whichever of `end` and `attach` comes last.
final class AnswerRelay: Sendable {
    private struct State {
        var sink: (any ResponseBodySink)?
        var ended = false
        var cancelled = false
    }

    private let state = Lock(State())

    /// The transfer's thread: waits for the pump, then copies `bytes` into it; false: stop.
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        state.wait { $0.sink != nil || $0.cancelled }
        guard let sink = state.withLock({ $0.cancelled ? nil : $0.sink }) else { return false }
        return sink.push(bytes)
    }

    /// The transfer's thread: no more bytes.
    func end() {
        let sink = state.withLockWaking { state -> (any ResponseBodySink)? in
            state.ended = true
            return state.sink
        }
        sink?.end()
    }

    func attach(_ sink: any ResponseBodySink) {
        let ended = state.withLockWaking { state -> Bool in
            state.sink = sink
            return state.ended
        }
        if ended { sink.end() }
    }

    /// No body is wanted (HEAD, none, the client left): the transfer stops at its next push.
    func cancel() { state.withLockWaking { $0.cancelled = true } }
}
