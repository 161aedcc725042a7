import Fleet
// Real etcd members for the fleet's tests (Debian's etcd-server, which `make test` installs): one
// or three members on free loopback ports, each with its data in a temp dir, stopped by pid.
package import Foundation
import Glibc

package final class EtcdMembers: @unchecked Sendable {
    // @unchecked: the tests drive one instance from one task at a time.
    package struct Member {
        package let name: String
        package let clientURL: String
        let peerURL: String
        let dataDir: URL
        var process: Process?
    }

    package private(set) var members: [Member]
    package let directory: URL

    /// The client URLs, comma-separated (what `--cluster` takes).
    package var endpoints: String { members.map(\.clientURL).joined(separator: ",") }

    /// Starts `count` members forming one cluster and waits until it answers.
    package init(count: Int = 1) throws {
        guard let binary = Self.binary else {
            throw Failure("etcd is not installed (Debian's etcd-server; `make test` installs it)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("etcd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        members = (0..<count).map { index in
            Member(
                name: "m\(index)", clientURL: "http://127.0.0.1:\(Self.freePort())", peerURL: "http://127.0.0.1:\(Self.freePort())",
                dataDir: directory.appendingPathComponent("m\(index)"), process: nil)
        }
        self.binary = binary
        do {
            for index in members.indices { try start(index) }
            try waitUntilHealthy(seconds: 30)
        } catch {
            stop()  // none left running behind a start that failed
            throw error
        }
    }

    private let binary: String
    private let http = CurlClient()

    private static var binary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// (Re)starts member `index` with its data as it was.
    package func start(_ index: Int) throws {
        let member = members[index]
        let cluster = members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDir.path,
            "--listen-client-urls", member.clientURL, "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL, "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", cluster, "--initial-cluster-state", "new", "--initial-cluster-token", directory.lastPathComponent,
            "--heartbeat-interval", "100", "--election-timeout", "1000", "--log-level", "error",
        ]
        FileManager.default.createFile(atPath: member.dataDir.path + ".log", contents: nil)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: member.dataDir.path + ".log"))
        process.standardInput = FileHandle.nullDevice
        try process.run()
        members[index].process = process
    }

    /// SIGKILL to member `index`.
    package func kill(_ index: Int) {
        guard let process = members[index].process, process.isRunning else { return }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        members[index].process = nil
    }

    /// Stops every member and removes their data.
    package func stop() {
        for index in members.indices { kill(index) }
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// Waits until every running member reports itself healthy.
    package func waitUntilHealthy(seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let healthy = members.filter { $0.process != nil }.allSatisfy { member in
                guard let answer = try? http.fetch(HTTPExchange(method: "GET", url: member.clientURL + "/health", timeout: 2)),
                    let object = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
                else { return false }
                return object["health"] as? String == "true"
            }
            if healthy { return }
            usleep(100_000)
        }
        throw Failure(
            "etcd did not become healthy in \(seconds) s: \(members.map { (try? String(contentsOfFile: $0.dataDir.path + ".log", encoding: .utf8)) ?? "" })"
        )
    }

    /// A loopback port nothing listens on now.
    package static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    package struct Failure: Error, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }
}
