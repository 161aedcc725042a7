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

package typealias StreamOpener = @Sendable (HTTPRequest, RequestContext) throws -> any RequestBodySink

/// A body already in memory, sent straight from its buffers (no copy); they stay valid and
/// unchanged until `release`, which the server calls once when the response is done.
package protocol ResponseBodySegments: AnyObject, Sendable {
    var length: Int64 { get }
    var segments: [(base: UnsafeRawPointer, count: Int)] { get }
    func release()
}
