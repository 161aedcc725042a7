// Streaming bodies in both directions, so object transfers never buffer a whole object.
// An upload's sink is fed chunks as libmicrohttpd receives them; a download's stream is read
// as libmicrohttpd sends. Both are driven by one thread at a time (a worker, when they may wait).

/// Receives a request body chunk by chunk, then produces the response.
package protocol RequestBodySink: AnyObject, Sendable {
    /// `bytes` stay valid and unchanged until the next `consume`, `finish` or `abort` returns, so
    /// a sink may go on reading them beside its next chunk (`DigestBeside`).
    func consume(_ bytes: UnsafeRawBufferPointer) throws
    func finish() throws -> HTTPResponse
    /// The client went away or the request failed: undo everything. Idempotent.
    func abort()
}

/// Produces a response body of `length` bytes on demand.
package protocol ResponseBodyStream: AnyObject, Sendable {
    var length: Int64 { get }
    /// Fills `buffer` with the bytes at `offset` (relative to the body); returns how many.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// Called once when the response is done or abandoned.
    func close()
    /// Whether `read` may wait (on disk): then a worker reads ahead of the event loop.
    var mayBlock: Bool { get }
}

extension ResponseBodyStream {
    package var mayBlock: Bool { true }
}

/// A response body another thread produces as it comes (a forwarded answer): when the response is
/// queued, it is handed where the event loop takes bytes from, and pushes them there itself (no
/// worker reads it; its `read` is never called).
package protocol PushedResponseBody: ResponseBodyStream {
    /// Called once, when the response is queued: from then on the producer pushes into `sink`.
    func deliver(to sink: any ResponseBodySink)
}

/// Where a pushed body's bytes go (the server's download pump).
package protocol ResponseBodySink: AnyObject, Sendable {
    /// Copies `bytes` in, waiting for room; false when the response was abandoned (stop producing).
    func push(_ bytes: UnsafeRawBufferPointer) -> Bool
    /// No more bytes come: all of the body's length came, or not (then the response ends with an
    /// error, as a failed read does).
    func end()
}

package typealias StreamOpener = @Sendable (HTTPRequest, RequestContext) throws -> any RequestBodySink

/// A body already in memory, sent straight from its buffers (no copy); they stay valid and
/// unchanged until `release`, which the server calls once when the response is done.
package protocol ResponseBodySegments: AnyObject, Sendable {
    var length: Int64 { get }
    var segments: [(base: UnsafeRawPointer, count: Int)] { get }
    func release()
}
