// The tests' HTTP/1.1 client: one connection over RawConnection, a request out and its whole
// response in (Content-Length or chunked). The end-to-end tests use it instead of URLSession:
// on Linux URLSession keeps libcurl's sockets in dispatch sources whose teardown races the
// socket's close (swift-corelibs-foundation#4791), and a test run once crashed libdispatch there.
import Foundation
import Glibc

struct HTTPClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

final class HTTPConnection {
    let raw: RawConnection
    private var pending: [UInt8] = []  // received, not yet parsed
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// `timeout` seconds for each send and receive.
    init(port: Int, timeout: Int) throws {
        raw = try RawConnection(port: port)
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(raw.fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(raw.fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    /// One request on a connection that stays open: a response that closes it is an error.
    func keepAliveExchange(_ method: String, _ target: String, token: String, body: [UInt8]? = nil)
        throws -> (status: Int, headers: [String: String], body: [UInt8])
    {
        let response = try exchange(method, target, headers: [("Authorization", "Bearer \(token)")], body: body)
        if response.headers["connection"]?.lowercased() == "close" {
            throw HTTPClientError("server closed the keep-alive connection after \(response.status)")
        }
        return response
    }

    /// Head and body go out in one send (no Nagle / delayed-ACK stall between them). Header
    /// names in the answer are lower-cased; repeated ones are joined with ", ". When the server
    /// answers before taking the whole body (a refusal) and closes, its answer is still read.
    func exchange(_ method: String, _ target: String, headers: [(String, String)], body: [UInt8]?)
        throws -> (status: Int, headers: [String: String], body: [UInt8])
    {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        var request = Data((head + "\r\n").utf8)
        if let body { request.append(contentsOf: body) }
        var sendError: (any Error)?
        do { try raw.send(request) } catch { sendError = error }

        var status = 100
        var fields: [String: String] = [:]
        while status < 200 {  // an interim 100 Continue comes before the answer
            guard let head = try? take(through: [13, 10, 13, 10]) else {
                throw sendError ?? HTTPClientError("server closed the connection before answering")
            }
            let lines = String(decoding: head.dropLast(4), as: UTF8.self).components(separatedBy: "\r\n")
            let statusLine = lines[0].split(separator: " ")
            guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let code = Int(statusLine[1]) else {
                throw HTTPClientError("bad status line \(lines[0].prefix(100))")
            }
            status = code
            fields = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                fields[name] = fields[name].map { $0 + ", " + value } ?? value
            }
        }
        var received: [UInt8] = []
        if method == "HEAD" || status == 204 || status == 304 {
            // no body
        } else if fields["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = String(decoding: try take(through: [13, 10]).dropLast(2), as: UTF8.self)
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) else {
                    throw HTTPClientError("bad chunk size \(sizeLine.prefix(40))")
                }
                if size == 0 {
                    while try take(through: [13, 10]).count > 2 {}  // trailers, then the empty line
                    break
                }
                received += try take(size)
                _ = try take(2)
            }
        } else if let length = fields["content-length"].flatMap({ Int($0) }) {
            received = try take(length)
        } else if fields["connection"]?.lowercased() == "close" {
            while (try? receiveMore()) != nil {}
            received = pending
            pending = []
        } else {
            throw HTTPClientError("\(status) response without a length")
        }
        return (status, fields, received)
    }

    private func receiveMore() throws {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                pending.append(contentsOf: buffer[0..<n])
                return
            }
            if n == 0 { throw HTTPClientError("server closed the connection") }
            if errno != EINTR { throw HTTPClientError("recv: \(String(cString: strerror(errno)))") }  // reset, timeout
        }
    }

    private func take(through delimiter: [UInt8]) throws -> [UInt8] {
        while true {
            if let end = pending.firstRange(of: delimiter)?.upperBound {
                defer { pending.removeSubrange(..<end) }
                return Array(pending[..<end])
            }
            try receiveMore()
        }
    }

    private func take(_ count: Int) throws -> [UInt8] {
        pending.reserveCapacity(count)
        while pending.count < count { try receiveMore() }
        defer { pending.removeSubrange(..<count) }
        return Array(pending[..<count])
    }
}
