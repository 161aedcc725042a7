// C trampolines (non-capturing closures in global lets; context through `void*`) and the
// per-request bookkeeping across libmicrohttpd's access-handler calls.
import CMicroHTTPD
import Foundation
import Logging
import Synchronization

let mhdYes = MHD_Result(rawValue: 1)!
let mhdNo = MHD_Result(rawValue: 0)!

/// State kept across the access-handler calls of one request.
final class RequestState: @unchecked Sendable {
    // @unchecked: MHD calls back for one request from one thread at a time.
    var body: [UInt8] = []
    var tooLarge = false
    /// Streaming routes: the open sink, the request head and when it started.
    var sink: (any RequestBodySink)?
    var head: HTTPRequest?
    var context: RequestContext?
    var started = ContinuousClock.now
    /// A response was already queued (an early refusal); later calls only discard data.
    var responded = false

    deinit { sink?.abort() }
}

/// Keeps a response stream alive while MHD reads from it.
final class StreamBox {
    let stream: any ResponseBodyStream
    init(_ stream: any ResponseBodyStream) { self.stream = stream }
}

let contentReaderTrampoline: MHD_ContentReaderCallback = { cls, position, buffer, max in
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
    let box = Unmanaged<StreamBox>.fromOpaque(cls!).takeRetainedValue()
    box.stream.close()
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
    return server.handle(
        connection: connection!, url: String(cString: url!), method: String(cString: method!),
        uploadData: uploadData, uploadDataSize: uploadDataSize!, requestContext: requestContext!)
}

let requestCompletedTrampoline: MHD_RequestCompletedCallback = { cls, _, requestContext, _ in
    guard let cls, let requestContext, let state = requestContext.pointee else { return }
    let server = Unmanaged<HTTPServer>.fromOpaque(cls).takeUnretainedValue()
    let request = Unmanaged<RequestState>.fromOpaque(state).takeRetainedValue()
    request.sink?.abort()  // The client went away mid-upload: leave nothing behind.
    request.sink = nil
    requestContext.pointee = nil
    server.inFlight.subtract(1, ordering: .releasing)
}

private let collectPairs: MHD_KeyValueIterator = { cls, _, key, value in
    let box = Unmanaged<PairBox>.fromOpaque(cls!).takeUnretainedValue()
    box.pairs.append((String(cString: key!), value.map { String(cString: $0) }))
    return mhdYes
}

private final class PairBox {
    var pairs: [(String, String?)] = []
}

extension HTTPServer {
    func handle(
        connection: OpaquePointer, url: String, method: String, uploadData: UnsafePointer<CChar>?,
        uploadDataSize: UnsafeMutablePointer<Int>, requestContext: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    ) -> MHD_Result {
        guard let raw = requestContext.pointee else {
            // First call: headers only. Queuing now would make MHD close the connection, so only
            // streaming routes that refuse the request (auth, validation, space) answer here.
            let state = RequestState()
            requestContext.pointee = Unmanaged.passRetained(state).toOpaque()
            inFlight.add(1, ordering: .relaxed)
            if router.streamsBody(method: method, path: url) {
                let head = makeRequest(connection, method: method, url: url, body: [])
                switch router.open(head, context: makeContext()) {
                case .sink(let sink, let context):
                    state.sink = sink
                    state.head = head
                    state.context = context
                case .response(let response):
                    state.responded = true
                    return queue(response, requestID: 0, on: connection)
                }
            }
            return mhdYes
        }
        let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()
        if state.responded {
            uploadDataSize.pointee = 0
            return mhdYes
        }
        if let sink = state.sink, let context = state.context, let head = state.head {
            if uploadDataSize.pointee > 0 {
                do {
                    try sink.consume(UnsafeRawBufferPointer(start: uploadData, count: uploadDataSize.pointee))
                    uploadDataSize.pointee = 0
                    return mhdYes
                } catch {
                    uploadDataSize.pointee = 0
                    sink.abort()
                    state.sink = nil
                    state.responded = true
                    let response = ErrorMapping.response(for: error, context: context)
                    router.completed(head, context: context, status: response.status, duration: ContinuousClock.now - state.started)
                    return queue(response, requestID: 0, on: connection)
                }
            }
            let response: HTTPResponse
            do {
                response = try sink.finish()
            } catch {
                sink.abort()
                response = ErrorMapping.response(for: error, context: context)
            }
            state.sink = nil
            router.completed(head, context: context, status: response.status, duration: ContinuousClock.now - state.started)
            return queue(response, requestID: 0, on: connection)
        }
        if uploadDataSize.pointee > 0 {
            let count = uploadDataSize.pointee
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
            return mhdYes
        }
        let context = makeContext()
        let response: HTTPResponse
        if state.tooLarge {
            response = ErrorMapping.response(for: HTTPError.payloadTooLarge(limit: configuration.maxBodyBytes), context: context)
        } else {
            let request = makeRequest(connection, method: method, url: url, body: state.body)
            state.body = []
            response = router.respond(to: request, context: context)
        }
        return queue(response, requestID: 0, on: connection)
    }

    private func makeContext() -> RequestContext {
        let id = requestCounter.add(1, ordering: .relaxed).newValue
        return RequestContext(requestID: String(id), logger: logger)
    }

    private func makeRequest(_ connection: OpaquePointer, method: String, url: String, body: [UInt8]) -> HTTPRequest {
        HTTPRequest(
            method: method, path: url, query: values(connection, appliance_mhd_query_kind).map { ($0.0, $0.1) },
            headers: Dictionary(values(connection, appliance_mhd_header_kind).map { ($0.0, $0.1 ?? "") }, uniquingKeysWith: { a, b in a + "," + b }),
            body: body)
    }

    private func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind) -> [(String, String?)] {
        let box = PairBox()
        _ = MHD_get_connection_values(connection, kind, collectPairs, Unmanaged.passUnretained(box).toOpaque())
        return box.pairs
    }

    private func queue(_ response: HTTPResponse, requestID: UInt64, on connection: OpaquePointer) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        if let segments = response.segments {
            let box = Unmanaged.passRetained(SegmentsBox(segments)).toOpaque()
            let vector = segments.segments.map { MHD_IoVec(iov_base: $0.base, iov_len: $0.count) }
            mhdResponse = MHD_create_response_from_iovec(vector, UInt32(vector.count), segmentsFreeTrampoline, box)
            if mhdResponse == nil { Unmanaged<SegmentsBox>.fromOpaque(box).takeRetainedValue().segments.release() }
        } else if let stream = response.stream {
            let box = Unmanaged.passRetained(StreamBox(stream)).toOpaque()
            // MHD callocs a buffer of the block size per response: no bigger than the body needs.
            let blockSize = Int(min(max(stream.length, 4096), 256 * 1024))
            mhdResponse = appliance_mhd_response_stream(UInt64(stream.length), blockSize, contentReaderTrampoline, box, contentFreeTrampoline)
            if mhdResponse == nil { Unmanaged<StreamBox>.fromOpaque(box).release() }
        } else {
            mhdResponse = response.body.withUnsafeBytes { bytes in
                appliance_mhd_response_copy(bytes.count, bytes.baseAddress)
            }
        }
        guard let mhdResponse else { return mhdNo }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value) }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }
}
