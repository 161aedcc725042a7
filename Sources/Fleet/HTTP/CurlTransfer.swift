// The fleet's HTTP client: libcurl's easy interface (connection reuse, chunked bodies, timeouts),
// driven synchronously on the calling thread, which may block (a worker, the keeper's thread;
// never an event loop). Bodies stream both ways through callbacks, so a proxied object is never
// held whole. The only Swift file that calls CCurl.
import CCurl
package import Engine
import Foundation
import Synchronization

/// One HTTP request for `CurlClient.perform`.
package struct HTTPExchange: Sendable {
    package enum Body: Sendable {
        case none
        case bytes([UInt8])
        /// Pulled as curl sends: `read` fills the buffer and returns how many bytes (0: the end),
        /// and may wait for them; a thrown error aborts the transfer. `length` nil: sent chunked.
        case stream(length: Int64?, read: @Sendable (UnsafeMutableRawBufferPointer) throws -> Int)
    }

    package var method: String
    package var url: String
    package var headers: [(name: String, value: String)]
    package var body: Body
    /// Seconds for the whole exchange (nil: no limit, for object streams; a stalled peer is cut by
    /// `stallSeconds`).
    package var timeout: Double?
    package var connectTimeout: Double = 3
    /// A transfer that moves under 1 byte/s this long is cut.
    package var stallSeconds = 120

    package init(method: String, url: String, headers: [(name: String, value: String)] = [], body: Body = .none, timeout: Double? = 10) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// A transport failure (no answer from the peer): the request may or may not have reached it.
package struct CurlError: Error, CustomStringConvertible {
    package let code: Int
    package let message: String
    package var description: String { "HTTP transfer failed: \(message) (curl \(code))" }
}

/// An answer read whole (control-plane calls: etcd, the fleet's own JSON).
package struct HTTPAnswer: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]
}

/// Lends easy handles (each keeps its connections alive between exchanges) to calling threads.
package final class CurlClient: Sendable {
    private struct Handle: @unchecked Sendable {
        // @unchecked: a handle is used by one thread at a time (taken from, then given back to, `idle`).
        let pointer: UnsafeMutableRawPointer
    }

    private let idle = Mutex<[Handle]>([])
    private let keptIdle: Int

    private static let initialized: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    package init(keptIdle: Int = 64) {
        precondition(Self.initialized, "libcurl did not initialize")
        self.keptIdle = keptIdle
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.pointer) }
    }

    /// Sends `exchange` and reads the answer whole.
    package func fetch(_ exchange: HTTPExchange) throws(CurlError) -> HTTPAnswer {
        let collected = Mutex<(head: (Int, [(name: String, value: String)])?, body: [UInt8])>((nil, []))
        try perform(
            exchange, onHead: { status, headers in collected.withLock { $0.head = (status, headers) } },
            onBody: { bytes in
                collected.withLock { $0.body.append(contentsOf: bytes) }
                return true
            })
        return collected.withLock { state in
            HTTPAnswer(status: state.head?.0 ?? 0, headers: state.head?.1 ?? [], body: state.body)
        }
    }

    /// Sends `exchange`; `onHead` gets the final status and headers once (before any body), and
    /// `onBody` each piece of the body as it comes (false: stop, which ends the call with an error).
    /// Both run on the calling thread and may wait.
    package func perform(
        _ exchange: HTTPExchange, onHead: @escaping @Sendable (Int, [(name: String, value: String)]) -> Void,
        onBody: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool
    ) throws(CurlError) {
        let handle = take()
        var kept = true
        defer { give(handle, keep: kept) }
        let transfer = Transfer(body: exchange.body, onHead: onHead, onBody: onBody)
        let context = Unmanaged.passRetained(transfer)
        defer { context.release() }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        let h = handle.pointer
        appliance_curl_setopt_string(h, CURLOPT_URL, exchange.url)
        appliance_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        appliance_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(exchange.connectTimeout * 1000))
        if let timeout = exchange.timeout { appliance_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, Int(timeout * 1000)) }
        appliance_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, 1)
        appliance_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, exchange.stallSeconds)
        appliance_curl_setopt_long(h, CURLOPT_TCP_NODELAY, 1)
        if exchange.timeout == nil {
            // An object stream: fewer, larger callbacks (each one is a hand-off to another thread).
            appliance_curl_setopt_long(h, CURLOPT_BUFFERSIZE, 512 << 10)
            appliance_curl_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 512 << 10)
        }
        appliance_curl_setopt_pointer(h, CURLOPT_HEADERDATA, context.toOpaque())
        appliance_curl_setopt_callback(h, CURLOPT_HEADERFUNCTION, Transfer.headerCallback)
        appliance_curl_setopt_pointer(h, CURLOPT_WRITEDATA, context.toOpaque())
        appliance_curl_setopt_callback(h, CURLOPT_WRITEFUNCTION, Transfer.writeCallback)
        switch (exchange.method, exchange.body) {
        case ("GET", .none):
            appliance_curl_setopt_long(h, CURLOPT_HTTPGET, 1)
        case ("HEAD", _):
            appliance_curl_setopt_long(h, CURLOPT_NOBODY, 1)
        case (_, .none) where ["DELETE", "OPTIONS"].contains(exchange.method):
            appliance_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, exchange.method)
        default:
            // Every other method sends a body (maybe empty: Content-Length: 0), read through the callback.
            appliance_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
            appliance_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, exchange.method)
            appliance_curl_setopt_pointer(h, CURLOPT_READDATA, context.toOpaque())
            appliance_curl_setopt_callback(h, CURLOPT_READFUNCTION, Transfer.readCallback)
            switch exchange.body {
            case .none: appliance_curl_setopt_offset(h, CURLOPT_INFILESIZE_LARGE, 0)
            case .bytes(let bytes): appliance_curl_setopt_offset(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(bytes.count))
            case .stream(let length?, _): appliance_curl_setopt_offset(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
            case .stream(nil, _): break  // chunked
            }
        }
        var names = Set<String>()
        for header in exchange.headers {
            names.insert(header.name.lowercased())
            list = curl_slist_append(list, "\(header.name): \(header.value)")
        }
        // What curl would add on its own and the peer did not ask for.
        for name in ["Expect", "Accept"] where !names.contains(name.lowercased()) { list = curl_slist_append(list, "\(name):") }
        appliance_curl_setopt_pointer(h, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        let code = curl_easy_perform(h)
        guard code == CURLE_OK else {
            kept = false
            throw CurlError(code: Int(code.rawValue), message: transfer.failure ?? String(cString: curl_easy_strerror(code)))
        }
        transfer.endHead(status: appliance_curl_response_code(h))
    }

    private func take() -> Handle {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        guard let pointer = curl_easy_init() else { preconditionFailure("curl_easy_init failed") }
        return Handle(pointer: pointer)
    }

    /// Back to `idle` (reset, its connections kept), or cleaned up after a failure or past the bound.
    private func give(_ handle: Handle, keep: Bool) {
        if keep {
            curl_easy_reset(handle.pointer)
            let kept = idle.withLock { idle -> Bool in
                guard idle.count < keptIdle else { return false }
                idle.append(handle)
                return true
            }
            if kept { return }
        }
        curl_easy_cleanup(handle.pointer)
    }
}

/// One exchange's callbacks and what they gathered (touched only by the thread in `perform`).
private final class Transfer: @unchecked Sendable {
    // @unchecked: curl calls back on the thread running `curl_easy_perform`, one call at a time.
    let body: HTTPExchange.Body
    let onHead: @Sendable (Int, [(name: String, value: String)]) -> Void
    let onBody: @Sendable (UnsafeRawBufferPointer) -> Bool
    var status = 0
    var headers: [(name: String, value: String)] = []
    var headSent = false
    var sentBytes = 0
    var failure: String?

    init(
        body: HTTPExchange.Body, onHead: @escaping @Sendable (Int, [(name: String, value: String)]) -> Void,
        onBody: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool
    ) {
        self.body = body
        self.onHead = onHead
        self.onBody = onBody
    }

    /// The head is complete (the blank line after a final status, or the end of a body-less answer).
    func endHead(status finalStatus: Int) {
        guard !headSent else { return }
        headSent = true
        onHead(status == 0 ? finalStatus : status, headers)
    }

    static let headerCallback: appliance_curl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        let length = size * count
        let line = String(decoding: UnsafeRawBufferPointer(start: buffer, count: length), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            // A new head (after 100 Continue, or a redirect's): start over.
            let parts = line.split(separator: " ", maxSplits: 2)
            transfer.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            transfer.headers = []
        } else if line.isEmpty {
            if transfer.status >= 200 { transfer.endHead(status: transfer.status) }
        } else if let colon = line.firstIndex(of: ":") {
            let name = String(line[..<colon]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            transfer.headers.append((name, value))
        }
        return length
    }

    static let writeCallback: appliance_curl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        let length = size * count
        transfer.endHead(status: transfer.status)
        guard transfer.onBody(UnsafeRawBufferPointer(start: buffer, count: length)) else {
            transfer.failure = "the receiver stopped taking the answer"
            return 0  // curl ends the transfer with CURLE_WRITE_ERROR
        }
        return length
    }

    static let readCallback: appliance_curl_data_callback = { buffer, size, count, context in
        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
        let room = UnsafeMutableRawBufferPointer(start: buffer, count: size * count)
        switch transfer.body {
        case .none:
            return 0
        case .bytes(let bytes):
            let n = min(room.count, bytes.count - transfer.sentBytes)
            bytes.withUnsafeBytes { source in
                room.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[transfer.sentBytes..<transfer.sentBytes + n]))
            }
            transfer.sentBytes += n
            return n
        case .stream(_, let read):
            do {
                return try read(room)
            } catch {
                transfer.failure = "the request body failed: \(error)"
                return appliance_curl_read_abort()
            }
        }
    }
}
