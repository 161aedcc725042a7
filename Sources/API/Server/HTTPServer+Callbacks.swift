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
    Unmanaged<RequestState>.fromOpaque(state).release()
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
            // First call: headers only. Queuing now would make MHD close the connection.
            requestContext.pointee = Unmanaged.passRetained(RequestState()).toOpaque()
            inFlight.add(1, ordering: .relaxed)
            return mhdYes
        }
        let state = Unmanaged<RequestState>.fromOpaque(raw).takeUnretainedValue()
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
        let id = requestCounter.add(1, ordering: .relaxed).newValue
        var logger = self.logger
        logger[metadataKey: "request-id"] = "\(id)"
        let context = RequestContext(requestID: String(id), logger: logger)
        let response: HTTPResponse
        if state.tooLarge {
            response = ErrorMapping.response(for: HTTPError.payloadTooLarge(limit: configuration.maxBodyBytes), context: context)
        } else {
            let request = HTTPRequest(
                method: method, path: url, query: values(connection, appliance_mhd_query_kind).map { ($0.0, $0.1) },
                headers: Dictionary(values(connection, appliance_mhd_header_kind).map { ($0.0, $0.1 ?? "") }, uniquingKeysWith: { a, b in a + "," + b }),
                body: state.body)
            state.body = []
            response = router.respond(to: request, context: context)
        }
        return queue(response, requestID: id, on: connection)
    }

    private func values(_ connection: OpaquePointer, _ kind: MHD_ValueKind) -> [(String, String?)] {
        let box = PairBox()
        _ = MHD_get_connection_values(connection, kind, collectPairs, Unmanaged.passUnretained(box).toOpaque())
        return box.pairs
    }

    private func queue(_ response: HTTPResponse, requestID: UInt64, on connection: OpaquePointer) -> MHD_Result {
        let mhdResponse = response.body.withUnsafeBytes { bytes in
            appliance_mhd_response_copy(bytes.count, bytes.baseAddress)
        }
        guard let mhdResponse else { return mhdNo }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value) }
        _ = MHD_add_response_header(mhdResponse, "X-Request-Id", String(requestID))
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }
}
