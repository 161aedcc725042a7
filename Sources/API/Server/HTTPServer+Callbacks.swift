// C trampolines (non-capturing closures in global lets; context through `void*`) and the
// per-request bookkeeping across libmicrohttpd's access-handler calls.
import CMicroHTTPD
import Engine
import Foundation
import Logging
import Synchronization

let mhdYes = MHD_Result(rawValue: 1)!
let mhdNo = MHD_Result(rawValue: 0)!

/// State kept across the access-handler calls of one request (all on its event-loop thread).
final class RequestState: @unchecked Sendable {
    // @unchecked: MHD calls back for one request from one thread at a time; the worker's answer
    // comes through `answer`.
    /// Where the request is in its life (RequestPhase.swift): what each call does.
    var phase = RequestPhase()
    var body: [UInt8] = []
    var tooLarge = false
    /// The request's route, resolved from its head (once).
    var resolution: RouteResolution?
    /// A streamed upload: the pump its worker drains (cancelled if the client goes away).
    var upload: UploadPump?
    /// A small upload's worker job (open the sink, drain the pump), run once the whole body is in:
    /// the worker then never waits for bytes (one hand-off fewer each way). Dropped, never run,
    /// when the client goes away first.
    var openWhenBodyIn: (@Sendable () -> Void)?
    /// A dispatched request's answer, set by its worker before it resumes the connection.
    let answer = Mutex<HTTPResponse?>(nil)
    /// The body's Content-Length (nil: none, or chunked) and the bytes of it seen so far.
    var expectedLength: Int64?
    var received = 0
    /// The request has a body (Content-Length > 0, or chunked).
    var hasBody = false
    /// The connection was switched to the body timeout (back to the header timeout once done).
    var bodyTimeout = false

    deinit { upload?.cancel() }
}

/// Keeps a response stream alive while MHD reads from it (streams that never block).
final class StreamBox {
    let stream: any ResponseBodyStream
    init(_ stream: any ResponseBodyStream) { self.stream = stream }
}

let contentReaderTrampoline: MHD_ContentReaderCallback = { cls, position, buffer, max in
    EventLoopGuard.onLoop { contentRead(cls, position, buffer, max) }
}

private func contentRead(_ cls: UnsafeMutableRawPointer?, _ position: UInt64, _ buffer: UnsafeMutablePointer<CChar>?, _ max: Int) -> Int {
    let stream = Unmanaged<StreamBox>.fromOpaque(cls!).takeUnretainedValue().stream
    let remaining = stream.length - Int64(position)
    guard remaining > 0 else { return appliance_mhd_content_end_of_stream }
    let count = Int(min(Int64(max), remaining))
    do {
        let n = try stream.read(at: Int64(position), into: UnsafeMutableRawBufferPointer(start: buffer, count: count))
        return n > 0 ? n : appliance_mhd_content_end_with_error
    } catch {
        return appliance_mhd_content_end_with_error
    }
}

let contentFreeTrampoline: MHD_ContentReaderFreeCallback = { cls in
    EventLoopGuard.onLoop {
        let box = Unmanaged<StreamBox>.fromOpaque(cls!).takeRetainedValue()
        box.stream.close()
    }
}

/// A pumped body (read by a worker) and the connection to suspend while it waits.
final class PumpBox {
    let pump: DownloadPump
    let connection: ConnectionHandle
    init(_ pump: DownloadPump, connection: ConnectionHandle) {
        self.pump = pump
        self.connection = connection
    }
}

let pumpReaderTrampoline: MHD_ContentReaderCallback = { cls, position, buffer, max in
    let box = Unmanaged<PumpBox>.fromOpaque(cls!).takeUnretainedValue()
    return EventLoopGuard.onLoop {
        box.pump.read(at: Int64(position), into: UnsafeMutableRawBufferPointer(start: buffer, count: max), connection: box.connection)
    }
}

let pumpFreeTrampoline: MHD_ContentReaderFreeCallback = { cls in
    Unmanaged<PumpBox>.fromOpaque(cls!).takeRetainedValue().pump.cancel()
}

/// Keeps a zero-copy body's buffers alive while MHD sends them.
final class SegmentsBox {
    let segments: any ResponseBodySegments
    init(_ segments: any ResponseBodySegments) { self.segments = segments }
}

let segmentsFreeTrampoline: MHD_ContentReaderFreeCallback = { cls in
    Unmanaged<SegmentsBox>.fromOpaque(cls!).takeRetainedValue().segments.release()
}

let accessHandlerTrampoline: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, requestContext in
    let server = Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue()
    return EventLoopGuard.onLoop {
        // Not repaired: a target that is not UTF-8 is refused (two raw keys must not reach one object).
        server.handle(
            connection: connection!, url: String(validatingCString: url!), method: String(cString: method!),
            uploadData: uploadData, uploadDataSize: uploadDataSize!, requestContext: requestContext!)
    }
}

let requestCompletedTrampoline: MHD_RequestCompletedCallback = { cls, connection, requestContext, code in
    guard let cls, let requestContext, let state = requestContext.pointee else { return }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let request = Unmanaged<RequestState>.fromOpaque(state).takeRetainedValue()
    EventLoopGuard.onLoop { request.upload?.cancel() }  // The client went away mid-upload: its worker leaves nothing behind.
    // A keep-alive connection waits for its next head under the header timeout again.
    if request.bodyTimeout { appliance_mhd_completed_timeout(connection, code, UInt32(server.configuration.headerTimeout)) }
    requestContext.pointee = nil
    // While draining (`shutdown`), the last request to finish wakes it.
    if server.inFlight.subtract(1, ordering: .acquiringAndReleasing).newValue == 0, server.draining.load(ordering: .acquiring) {
        server.drained.wakeAll()
    }
}

private let collectPairs: MHD_KeyValueIterator = { cls, _, key, value in
    let box = Unmanaged<PairBox>.fromOpaque(cls!).takeUnretainedValue()
    box.pairs.append((String(cString: key!), value.map { String(cString: $0) }))
    return mhdYes
}

/// Headers, their names lower-cased (ASCII) as they are copied: the request's header table is
/// built once, not built and then rebuilt lower-cased (that and `lowercased()` per name were a
/// twelfth of a cached S3 GET, which carries seven headers).
private let collectHeaders: MHD_KeyValueIterator = { cls, _, key, value in
    let box = Unmanaged<PairBox>.fromOpaque(cls!).takeUnretainedValue()
    let name = UnsafeRawPointer(key!).assumingMemoryBound(to: UInt8.self)
    let length = strlen(key!)
    let lowered = String(unsafeUninitializedCapacity: length) { out in
        for i in 0..<length {
            let byte = name[i]
            out[i] = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
        }
        return length
    }
    box.pairs.append((lowered, value.map { String(cString: $0) }))
    return mhdYes
}

/// (libmicrohttpd 0.9.75 cuts a header or target at a NUL byte before it reaches us: a NUL cannot
/// be seen here, so it cannot be refused; 1.0 refuses such requests itself.)
private final class PairBox {
    var pairs: [(String, String?)] = []
}

extension HTTPServer {
    /// libmicrohttpd's access handler, on the connection's event-loop thread: never waits. What
    /// may wait (disk, commits, flushes) runs on a worker while the connection is suspended. Each
    /// call does what the request's phase says.
    func handle(
        connection: OpaquePointer, url rawURL: String?, method: String, uploadData: UnsafePointer<CChar>?,
        uploadDataSize: UnsafeMutablePointer<Int>, requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        let url = rawURL ?? ""  // An invalid target is refused on the first call.
        guard let raw = requestContext.pointee else {
            let state = RequestState()
            requestContext.pointee = Unmanaged.passRetained(state).toOpaque()
            inFlight.add(1, ordering: .relaxed)
            return head(state, connection: connection, rawURL: rawURL, url: url, method: method)
        }
        let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()
        if state.phase.dropsBody { return dropBody(state, uploadDataSize, connection: connection) }
        if state.phase.isStreaming, let pump = state.upload {
            return stream(state, pump, uploadData, uploadDataSize, connection: connection)
        }
        if uploadDataSize.pointee > 0 { return buffer(state, uploadData, uploadDataSize, connection: connection) }
        if state.phase.isDispatched {
            // Called again after the worker resumed the connection.
            guard let response = state.answer.withLock({ $0.take() }) else { return mhdYes }
            state.phase.answered()
            return queue(response, on: connection)
        }
        return run(state, connection: connection, url: url, method: method)
    }

    /// The first call: headers only. Queuing now makes MHD close the connection, so only a
    /// streamed upload's refusal (auth, validation, space) to a client waiting for 100 Continue,
    /// or sending a large body, is answered here (a refusal certain from memory). Opening an
    /// upload reads the catalog, so a worker opens it.
    private func head(_ state: RequestState, connection: OpaquePointer, rawURL: String?, url: String, method: String) -> MHD_Result {
        func header(_ name: String) -> String? {
            MHD_lookup_connection_value(connection, appliance_mhd_header_kind, name).map { String(cString: $0) }
        }
        // Routed once: the resolution travels with the request to the loop or a worker.
        let resolution = router.resolve(
            method: method, path: router.routedPath(url, host: header("Host")),
            forwardable: router.forwards && header(FleetRouting.forwardedHeader) == nil)
        state.resolution = resolution
        // The head's framing first: a refusal here is answered now and the connection closed.
        switch RequestFraming.check(
            target: rawURL, contentLength: header("Content-Length"),
            transferEncoding: header("Transfer-Encoding"), bodyLimit: resolution.streamsBody ? nil : configuration.maxBodyBytes)
        {
        case .failure(let error):
            // A body too long for its route is refused, but an unauthenticated request learns only that.
            var answer = router.errorResponse(error, makeContext())
            if case .payloadTooLarge = error,
                let refusal = router.refusal(ofHead: makeRequest(connection, method: method, url: url, body: []), resolution, context: makeContext())
            {
                answer = refusal
            }
            return carryOut(state.phase.refuse(answer, now: true), on: connection)
        case .success(let framing):
            awaitBody(state, framing: framing, connection: connection)
        }
        // A client waiting for 100 Continue gets a refusal now and sends no body; one already
        // sending a body of modest size gets it once the body is read and dropped; a larger one
        // now, and the connection closes.
        let refuseNow = header("Expect")?.lowercased() == "100-continue" || (state.expectedLength ?? 0) > RequestPhase.discardLimit
        if resolution.streamsBody {
            state.phase.headHandled(streaming: true)
            let head = makeRequest(connection, method: method, url: url, body: [])
            var context = makeContext()
            context.mayBlock = false
            switch router.run(head, resolution, context: context) {
            case .opened(let sink, let context):
                consume(head, into: sink, context: context, state: state, connection: connection)
            case .needsWorker(let carried):
                // Opening waits (catalog reads, a writeback of the same object, throttled writers).
                context = carried ?? context
                context.mayBlock = true
                let pump = consume(head, into: nil, context: context, state: state, connection: connection)
                let open: @Sendable () -> Void = { [router, context] in
                    switch router.run(head, resolution, context: context) {
                    case .opened(let sink, let context): pump.drain(sink, context: context)
                    case .response(let response): pump.refuse(response)
                    case .needsWorker: preconditionFailure("a worker may block")
                    }
                }
                // A small body (it fits the pump's one buffer) is taken whole first, unless the
                // client waits for 100 Continue (it is to hear a refusal before it sends).
                if !refuseNow, let length = state.expectedLength, length <= Self.openAfterBodyLimit {
                    state.openWhenBodyIn = open
                } else {
                    workers.run(open)
                }
            case .response(let response):
                return carryOut(state.phase.refuse(response, now: refuseNow), on: connection)
            }
            return mhdYes
        }
        state.phase.headHandled(streaming: false)
        if state.hasBody,
            let refusal = router.refusal(ofHead: makeRequest(connection, method: method, url: url, body: []), resolution, context: makeContext())
        {
            // Refused whatever its body (no route, auth): the body is dropped as it comes, never buffered.
            return carryOut(state.phase.refuse(refusal, now: refuseNow), on: connection)
        }
        return mhdYes
    }

    /// The answer is known: body bytes are dropped as they come (never buffered), and the answer
    /// goes out at the body's end or past the discard limit.
    private func dropBody(_ state: RequestState, _ uploadDataSize: UnsafeMutablePointer<Int>, connection: OpaquePointer) -> MHD_Result {
        let count = uploadDataSize.pointee
        uploadDataSize.pointee = 0
        state.received += count
        if case .answer(let response) = state.phase.dropped(count) { return queue(response, on: connection) }
        // Cut off mid-body: MHD 0.9.75 queues no answer before the body's end, so close now.
        return count > 0 && bodyCutOff(state, connection: connection) ? mhdNo : mhdYes
    }

    /// A streamed upload's body: offered to its pump (a worker consumes it); at its end, the
    /// pump's answer once the worker has one.
    private func stream(
        _ state: RequestState, _ pump: UploadPump, _ uploadData: UnsafePointer<CChar>?, _ uploadDataSize: UnsafeMutablePointer<Int>,
        connection: OpaquePointer
    ) -> MHD_Result {
        let handle = ConnectionHandle(pointer: connection)
        if uploadDataSize.pointee > 0 {
            switch pump.offer(UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee), connection: handle) {
            case .taken(let count):
                uploadDataSize.pointee -= count
                return mhdYes
            case .answered(let response):
                // Refused mid-body: the rest of the body is read and dropped first.
                uploadDataSize.pointee = 0
                return carryOut(state.phase.refuse(response, now: false), on: connection)
            }
        }
        guard let response = pump.finishInput(connection: handle) else {
            // The whole body is in the pump and the connection suspended: the worker opens the sink now.
            if let open = state.openWhenBodyIn {
                state.openWhenBodyIn = nil
                workers.run(open)
            }
            return mhdYes
        }
        state.phase.answered()
        return queue(response, on: connection)
    }

    /// A body for a route that is not streamed: kept in memory up to `maxBodyBytes` (past it,
    /// dropped and answered 413 at its end).
    private func buffer(
        _ state: RequestState, _ uploadData: UnsafePointer<CChar>?, _ uploadDataSize: UnsafeMutablePointer<Int>, connection: OpaquePointer
    ) -> MHD_Result {
        let count = uploadDataSize.pointee
        state.received += count
        if !state.tooLarge {
            if state.body.count + count > configuration.maxBodyBytes {
                state.tooLarge = true
                state.body = []
            } else {
                uploadData!.withMemoryRebound(to: UInt8.self, capacity: count) {
                    state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
                }
            }
        }
        uploadDataSize.pointee = 0
        // A body that can no longer complete: MHD_NO closes the connection now.
        return bodyCutOff(state, connection: connection) ? mhdNo : mhdYes
    }

    /// The whole request is in: routes that never wait (health, cached object reads) answer right
    /// here; the rest go to a worker with the connection suspended.
    private func run(_ state: RequestState, connection: OpaquePointer, url: String, method: String) -> MHD_Result {
        var context = makeContext()
        if state.tooLarge {
            state.phase.answered()
            return queue(router.errorResponse(HTTPError.payloadTooLarge(limit: configuration.maxBodyBytes), context), on: connection)
        }
        let request = makeRequest(connection, method: method, url: url, body: state.body)
        state.body = []
        context.mayBlock = false
        let resolution = state.resolution!
        switch router.run(request, resolution, context: context) {
        case .response(let response):
            state.phase.answered()
            return queue(response, on: connection)
        case .opened(let sink, let context):
            sink.abort()  // Not a streaming route (it would have been opened with the head).
            state.phase.answered()
            return queue(router.errorResponse(HTTPError.badRequest("this route needs a streamed body"), context), on: connection)
        case .needsWorker(let carried): context = carried ?? context
        }
        context.mayBlock = true
        state.phase.dispatch()
        let handle = ConnectionHandle(pointer: connection)
        handle.suspend()
        workers.run { [router, context] in
            let response: HTTPResponse
            switch router.run(request, resolution, context: context) {
            case .response(let answer): response = answer
            case .opened(let sink, let context):
                sink.abort()
                response = router.errorResponse(HTTPError.badRequest("this route needs a streamed body"), context)
            case .needsWorker: preconditionFailure("a worker may block")
            }
            state.answer.withLock { $0 = response }
            handle.resume()
        }
        return mhdYes
    }

    private func carryOut(_ action: RequestPhase.Action, on connection: OpaquePointer) -> MHD_Result {
        switch action {
        case .wait: mhdYes
        case .answer(let response): queue(response, on: connection)
        }
    }

    /// First call: a request with a body waits for it under the body timeout. One without stays
    /// on the daemon's (the header timeout): MHD looks at connections with their own timeout on
    /// every loop iteration, so only those receiving a body should have one.
    private func awaitBody(_ state: RequestState, framing: RequestFraming, connection: OpaquePointer) {
        state.expectedLength = framing.expectedLength
        state.hasBody = framing.hasBody
        guard state.hasBody, configuration.bodyTimeout != configuration.headerTimeout else { return }
        appliance_mhd_set_timeout(connection, UInt32(configuration.bodyTimeout))
        state.bodyTimeout = true
    }

    /// After body bytes that leave a Content-Length body short: whether the client has hung up.
    /// MHD's edge-triggered loop misses a FIN that came with the last bytes it read (see
    /// `appliance_socket_peer_closed`), so the request would wait out the body timeout. Bytes
    /// still in MHD's buffer are passed in the same call, so a FIN here means the body is cut off.
    /// (A chunked body's end is unknown here: it is left to the body timeout.)
    private func bodyCutOff(_ state: RequestState, connection: OpaquePointer) -> Bool {
        // Under TLS the socket holds records and GnuTLS may hold bytes already read: no peeking.
        guard !configuration.tls, let expected = state.expectedLength, Int64(state.received) < expected else { return false }
        return appliance_socket_peer_closed(appliance_mhd_connection_fd(connection)) != 0
    }

    /// The pump for an upload's body, and the worker that feeds it to `sink` (when nil, the
    /// worker that is still opening the sink drains it).
    @discardableResult
    private func consume(
        _ head: HTTPRequest, into sink: (any RequestBodySink)?, context: RequestContext, state: RequestState, connection: OpaquePointer
    ) -> UploadPump {
        let router = self.router
        let started = ContinuousClock.now
        let pump = UploadPump(
            expectedLength: state.expectedLength, socket: appliance_mhd_connection_fd(connection), encrypted: configuration.tls,
            floor: configuration.uploadMinRate > 0
                ? UploadPump.RateFloor(
                    bytes: Int64(configuration.uploadMinRate) * Int64(configuration.uploadRateWindow),
                    window: TimeInterval(configuration.uploadRateWindow))
                : nil,
            respond: { router.errorResponse($0, $1) },
            answered: { router.completed(head, context: $1, status: $0.status, duration: ContinuousClock.now - started) })
        state.upload = pump
        if let sink { workers.run { pump.drain(sink, context: context) } }
        return pump
    }

    private func makeContext() -> RequestContext {
        let id = requestCounter.add(1, ordering: .relaxed).newValue
        return RequestContext(requestID: String(id), logger: logger)
    }

    private func makeRequest(_ connection: OpaquePointer, method: String, url: String, body: [UInt8]) -> HTTPRequest {
        var request = HTTPRequest(
            method: method, path: url, query: values(connection, appliance_mhd_query_kind, collectPairs).pairs.map { ($0.0, $0.1) },
            lowercasedHeaders: Dictionary(
                values(connection, appliance_mhd_header_kind, collectHeaders).pairs.map { ($0.0, $0.1 ?? "") },
                uniquingKeysWith: { a, b in a + "," + b }),
            body: body)
        request.path = router.routedPath(url, host: request.header("host"))
        return request
    }

    private func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind, _ collect: MHD_KeyValueIterator) -> PairBox {
        let box = PairBox()
        _ = MHD_get_connection_values(connection, kind, collect, Unmanaged.passUnretained(box).toOpaque())
        return box
    }

    private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        // MHD callocs a buffer of the block size per streamed response: no bigger than the body needs.
        let blockSize = Int(min(max(response.stream?.length ?? 0, 4096), 256 * 1024))
        if let segments = response.segments {
            let box = Unmanaged.passRetained(SegmentsBox(segments)).toOpaque()
            let vector = segments.segments.map { MHD_IoVec(iov_base: $0.base, iov_len: $0.count) }
            mhdResponse = MHD_create_response_from_iovec(vector, UInt32(vector.count), segmentsFreeTrampoline, box)
            if mhdResponse == nil { Unmanaged<SegmentsBox>.fromOpaque(box).takeRetainedValue().segments.release() }
        } else if let stream = response.stream, stream.mayBlock {
            // Read by a worker, ahead of MHD's reads; or a pushed body, put in by its own producer.
            let pushed = stream as? any PushedResponseBody
            let pump = pushed == nil ? DownloadPump(stream: stream) : DownloadPump(stream: stream, chunkSize: 256 << 10, maxChunks: 8)
            let box = Unmanaged.passRetained(PumpBox(pump, connection: ConnectionHandle(pointer: connection))).toOpaque()
            mhdResponse = appliance_mhd_response_stream(UInt64(stream.length), blockSize, pumpReaderTrampoline, box, pumpFreeTrampoline)
            if mhdResponse == nil {
                Unmanaged<PumpBox>.fromOpaque(box).release()
                stream.close()
            } else if let pushed {
                pushed.deliver(to: pump)
            } else {
                workers.run { pump.produce() }
            }
        } else if let stream = response.stream {
            let box = Unmanaged.passRetained(StreamBox(stream)).toOpaque()
            mhdResponse = appliance_mhd_response_stream(UInt64(stream.length), blockSize, contentReaderTrampoline, box, contentFreeTrampoline)
            if mhdResponse == nil { Unmanaged<StreamBox>.fromOpaque(box).release() }
        } else {
            mhdResponse = response.body.withUnsafeBytes { bytes in
                appliance_mhd_response_copy(bytes.count, bytes.baseAddress)
            }
        }
        guard let mhdResponse else { return mhdNo }
        defer { MHD_destroy_response(mhdResponse) }
        // libmicrohttpd refuses an empty value (user metadata may be empty): a lone space is sent,
        // which every client trims away (whitespace around a field value is not part of it).
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value.isEmpty ? " " : value) }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }
}
