// Carries an upload's body from the event loop to the worker that feeds the sink (which may
// wait on disk). The event loop copies MHD's small chunks into a few large buffers; when they are
// all full it suspends the connection (TCP backpressure reaches the client) and the worker
// resumes it as it frees one. The worker's answer (the sink's response, or the error that ended
// it, or the refusal of `open`) is picked up by the event loop on its next call for the request.
// Body bytes that arrive while the worker is still opening the sink wait in the buffers.
// A client that goes away mid-body is noticed even when MHD misses it (see `idleCheck`).
import CMicroHTTPD
import Foundation

final class UploadPump: @unchecked Sendable {
    // @unchecked: every field below `condition` is touched only with it locked; the sink only by
    // the worker.
    private let condition = NSCondition()
    private let chunkSize: Int
    private let maxChunks: Int
    /// Filled buffers, oldest first, and the one the event loop is filling.
    private var full: [(buffer: UnsafeMutableRawBufferPointer, count: Int)] = []
    private var filling: UnsafeMutableRawBufferPointer?
    private var filled = 0
    private var spare: [UnsafeMutableRawBufferPointer] = []
    private var allocated = 0
    /// The event loop has given the whole body.
    private var ended = false
    /// The client went away: the worker aborts the sink.
    private var cancelled = false
    /// The worker's answer, once it has one.
    private var outcome: HTTPResponse?
    /// The connection while the event loop waits (for room or for the outcome).
    private var waiting: ConnectionHandle?

    /// The response for an error that ends the upload, and what to do (on the worker) with the
    /// answer before the event loop sees it.
    private let respond: @Sendable (any Error, RequestContext) -> HTTPResponse
    private let answered: @Sendable (HTTPResponse, RequestContext) -> Void
    /// The connection's socket, for the idle check (-1: none).
    private let socket: Int32
    /// The socket carries TLS: what is on it is records, not the body, and GnuTLS may hold bytes
    /// read from it. The FIN check is left to the body timeout then, and a cut upload's answer
    /// cannot be written beside MHD (only the shutdown is).
    private let encrypted: Bool
    /// How long the worker waits for body bytes before it checks whether the client is still
    /// there. MHD's edge-triggered loop never sees a FIN that arrived with the last bytes it read
    /// (a client that sent part of a body and closed at once): without this check the upload would
    /// hold its worker, its staged data and its space reservation until MHD's connection timeout.
    static let idleCheck: TimeInterval = 1
    /// The slowest body kept: at least `bytes` in any `window` (a trickle would otherwise pin its
    /// worker and space reservation for as long as it pleases). nil: no floor.
    struct RateFloor: Sendable {
        var bytes: Int64
        var window: TimeInterval
    }
    private let floor: RateFloor?
    /// Body bytes taken from the event loop in all, and samples of it (time, total) while the
    /// worker waits for more: a window's progress is the total now less the sample a window back.
    private var taken: Int64 = 0
    private var samples: [(at: ContinuousClock.Instant, taken: Int64)] = []

    /// `expectedLength` (from Content-Length) keeps buffers small for small bodies.
    init(
        expectedLength: Int64?, socket: Int32 = -1, encrypted: Bool = false, chunkSize: Int = 1 << 20, maxChunks: Int = 4, floor: RateFloor? = nil,
        respond: @escaping @Sendable (any Error, RequestContext) -> HTTPResponse,
        answered: @escaping @Sendable (HTTPResponse, RequestContext) -> Void
    ) {
        self.socket = socket
        self.encrypted = encrypted
        self.floor = floor
        self.chunkSize = Int(min(Int64(chunkSize), max(expectedLength ?? Int64(chunkSize), 1)))
        self.maxChunks = maxChunks
        self.respond = respond
        self.answered = answered
    }

    deinit {
        for chunk in full { chunk.buffer.deallocate() }
        filling?.deallocate()
        for buffer in spare { buffer.deallocate() }
    }

    enum Offer {
        /// This many bytes were taken; fewer than offered means the connection is now suspended.
        case taken(Int)
        /// The worker has answered already (an error): send this, discard the rest.
        case answered(HTTPResponse)
    }

    /// Event loop: takes what fits of `bytes`; suspends `connection` when everything is full.
    func offer(_ bytes: UnsafeRawBufferPointer, connection: ConnectionHandle) -> Offer {
        condition.lock()
        defer { condition.unlock() }
        if let outcome { return .answered(outcome) }
        var taken = 0
        while taken < bytes.count {
            if filling == nil {
                if let buffer = spare.popLast() {
                    filling = buffer
                } else if allocated < maxChunks {
                    allocated += 1
                    filling = .allocate(byteCount: chunkSize, alignment: 64)
                } else {
                    // Suspended under the lock, so the worker's resume comes after it.
                    waiting = connection
                    connection.suspend()
                    return .taken(taken)
                }
                filled = 0
            }
            let buffer = filling!
            let n = min(buffer.count - filled, bytes.count - taken)
            UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<filled + n]).copyMemory(
                from: UnsafeRawBufferPointer(rebasing: bytes[taken..<taken + n]))
            filled += n
            taken += n
            self.taken += Int64(n)
            if filled == buffer.count {
                full.append((buffer, filled))
                filling = nil
                condition.signal()
            }
        }
        return .taken(taken)
    }

    /// Event loop, after the last byte: the worker's answer, or nil after suspending `connection`
    /// until there is one.
    func finishInput(connection: ConnectionHandle) -> HTTPResponse? {
        condition.lock()
        defer { condition.unlock() }
        if !ended {
            ended = true
            if let buffer = filling, filled > 0 {
                full.append((buffer, filled))
                filling = nil
            }
            condition.signal()
        }
        if let outcome { return outcome }
        waiting = connection
        connection.suspend()
        return nil
    }

    /// The request is over (answered or the client left): a worker still reading stops.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.signal()
        condition.unlock()
    }

    /// Worker: feeds the body to `sink` as it arrives, then answers with `finish`'s response
    /// (or the error's). `answered` runs (on the worker) before the event loop sees the answer.
    func drain(_ sink: any RequestBodySink, context: RequestContext) {
        var response: HTTPResponse?
        // The chunk consumed last: kept unchanged until the next `consume` returns (or the sink
        // is done), as `RequestBodySink` promises, then spare again.
        var held: UnsafeMutableRawBufferPointer?
        defer {
            if let held {
                condition.lock()
                spare.append(held)
                condition.unlock()
            }
        }
        while response == nil {
            condition.lock()
            while full.isEmpty && !ended && !cancelled {
                if condition.wait(until: Date(timeIntervalSinceNow: Self.idleCheck)) { continue }
                // Idle: the lock keeps the request (and so its socket) open while we look.
                if full.isEmpty, !ended, !cancelled, !encrypted, appliance_socket_peer_closed(socket) != 0 {
                    cancelled = true
                    appliance_socket_shutdown(socket)  // So that MHD closes the connection now.
                }
                if full.isEmpty, !ended, !cancelled, let floor, tooSlow(floor) {
                    // Cut: MHD cannot answer before the body's end, so the answer is written to
                    // the socket here and the connection shut; the sink gives its space back.
                    cancelled = true
                    let response = respond(
                        HTTPError.bodyTooSlow("the body came at fewer than \(floor.bytes) bytes in \(Int(floor.window)) s"), context)
                    if encrypted {
                        appliance_socket_shutdown(socket)
                    } else {
                        let raw = response.serialized()
                        raw.withUnsafeBytes { appliance_socket_send_final(socket, $0.baseAddress, $0.count) }
                    }
                    answered(response, context)
                }
            }
            if cancelled {
                condition.unlock()
                sink.abort()
                return
            }
            guard !full.isEmpty else {
                condition.unlock()
                break
            }
            let chunk = full.removeFirst()
            samples.removeAll()  // A whole chunk came: the window starts again.
            condition.unlock()
            do {
                try sink.consume(UnsafeRawBufferPointer(rebasing: chunk.buffer[0..<chunk.count]))
            } catch {
                sink.abort()
                response = respond(error, context)
            }
            condition.lock()
            if let held { spare.append(held) }
            held = chunk.buffer
            // A loop suspended for room gets it now. After the body's end the loop waits for the
            // answer instead: woken now, it would only suspend again.
            let resume = response == nil && !ended ? waiting.take() : nil
            condition.unlock()
            resume?.resume()
        }
        if response == nil {
            do {
                response = try sink.finish()
            } catch {
                sink.abort()
                response = respond(error, context)
            }
        }
        answered(response!, context)
        condition.lock()
        outcome = response
        let resume = waiting.take()
        condition.unlock()
        resume?.resume()
    }

    /// Under the lock, while the worker waits for body bytes: whether less than the floor came in
    /// the last window. Samples are taken only while waiting (a worker busy on disk is not the
    /// client's slowness; the window restarts after each whole chunk).
    private func tooSlow(_ floor: RateFloor) -> Bool {
        let now = ContinuousClock.now
        samples.append((now, taken))
        let windowStart = now - .milliseconds(Int64(floor.window * 1000))
        guard let first = samples.first, first.at <= windowStart else { return false }
        // The newest sample at least a window old is what the window is measured from.
        let from = samples.last { $0.at <= windowStart }!
        samples.removeAll { $0.at < from.at }
        return taken - from.taken < floor.bytes
    }

    /// Worker: the upload was refused before a byte was consumed (auth, validation, space).
    func refuse(_ response: HTTPResponse) {
        condition.lock()
        outcome = response
        let resume = waiting.take()
        condition.unlock()
        resume?.resume()
    }

}
