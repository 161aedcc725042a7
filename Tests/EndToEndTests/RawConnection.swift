// A plain blocking TCP client on 127.0.0.1, for the tests' HTTP and for requests that stop half way.
import Foundation
import Glibc

/// A plain blocking TCP client, for requests that stop half way.
final class RawConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        // No close here: an initializer that throws once every stored property is set still
        // runs deinit, which closes `fd`. Closing it here too closed it twice; with tests running
        // in parallel, the second close hit another test's new socket under the same number, and
        // two requests then shared one connection (a GET got another test's PUT answer).
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { close(fd) }

    func send(_ text: String) throws { try send(Data(text.utf8)) }

    /// Sends a request line and headers (Host and, with `token`, Authorization added), no body.
    func sendHead(_ method: String, _ target: String, token: String? = nil, headers: [String] = []) throws {
        let lines = ["\(method) \(target) HTTP/1.1", "Host: x"] + (token.map { ["Authorization: Bearer \($0)"] } ?? []) + headers
        try send(lines.joined(separator: "\r\n") + "\r\n\r\n")
    }

    /// What the server sends until it has sent a whole header block and `bodyBytes` more, closes,
    /// or `timeout` passes.
    func receive(bodyBytes: Int = 0, timeout: Duration = .seconds(10)) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let end = received.firstRange(of: Array("\r\n\r\n".utf8)), received.count - end.upperBound >= bodyBytes { break }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { break }
            if n > 0 { received += buffer[0..<n] }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// The bytes the server sends until `max` came, it closes, or `timeout` passes.
    func receiveBytes(max: Int, timeout: Duration = .seconds(10)) -> [UInt8] {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let deadline = ContinuousClock.now + timeout
        while received.count < max, ContinuousClock.now < deadline {
            let n = recv(fd, &buffer, min(buffer.count, max - received.count), 0)
            if n == 0 { break }
            if n > 0 { received += buffer[0..<n] }
        }
        return received
    }

    func send(_ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var sent = 0
            while sent < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw POSIXError(.EPIPE) }
                sent += n
            }
        }
    }
}
