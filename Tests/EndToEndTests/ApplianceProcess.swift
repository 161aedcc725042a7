// Test harness: starts the real `appliance` binary on 127.0.0.1:0 with a temp data dir and
// speaks HTTP to it.
import Foundation

struct HTTPResult: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    func header(_ name: String) -> String? {
        headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}

final class ApplianceProcess: @unchecked Sendable {
    let dataDir: URL
    let process = Process()
    private(set) var baseURL = URL(string: "http://127.0.0.1")!
    /// The S3 endpoint (nil with `--s3-listen off`).
    private(set) var s3URL: URL?
    private let stderrPipe = Pipe()
    private var stderrLog: ChildOutput?
    private(set) var token = ""
    private let ownsDataDir: Bool

    static var binary: URL {
        if let env = ProcessInfo.processInfo.environment["APPLIANCE_BIN"] { return URL(fileURLWithPath: env) }
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("appliance")
        if FileManager.default.isExecutableFile(atPath: besideTests.path) { return besideTests }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/appliance")
    }

    static func makeTempDir() -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("appliance-e2e-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Starts the appliance. `dataDir` nil: a fresh temp dir, removed by `stop(removeData: true)`.
    /// With `workingDirectory`, the process runs there and gets `dataDir` as the path relative to it.
    init(dataDir: URL? = nil, extraArguments: [String] = [], workingDirectory: URL? = nil) throws {
        ownsDataDir = dataDir == nil
        self.dataDir = dataDir ?? Self.makeTempDir()
        process.executableURL = Self.binary
        var dataDirArgument = self.dataDir.path
        if let workingDirectory {
            process.currentDirectoryURL = workingDirectory
            let base = workingDirectory.standardizedFileURL.path + "/"
            precondition(self.dataDir.standardizedFileURL.path.hasPrefix(base), "the data dir must lie under the working directory")
            dataDirArgument = String(self.dataDir.standardizedFileURL.path.dropFirst(base.count))
        }
        process.arguments =
            ["serve", "--data-dir", dataDirArgument, "--device-size", String(256 << 20)]
            + (extraArguments.contains("--listen") ? [] : ["--listen", "127.0.0.1:0"])
            + (extraArguments.contains("--s3-listen") ? [] : ["--s3-listen", "127.0.0.1:0"]) + extraArguments
        let wantsS3 = !(extraArguments.firstIndex(of: "--s3-listen").map { extraArguments[$0 + 1] == "off" } ?? false)
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let (admin, s3) = try waitForListenURL(s3: wantsS3)
        baseURL = URL(string: admin)!
        s3URL = s3.flatMap { URL(string: $0) }
        if let flag = extraArguments.firstIndex(of: "--token") {
            token = extraArguments[flag + 1]
        } else {
            token = try String(contentsOf: self.dataDir.appendingPathComponent("token"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The admin API's URL, and the S3 endpoint's when `s3`.
    private func waitForListenURL(s3: Bool) throws -> (String, String?) {
        let log = ChildOutput(stderrPipe.fileHandleForReading)
        stderrLog = log
        let found = log.wait(seconds: 60) { text -> (String, String?)? in
            // Any listen address (a test may listen on 0.0.0.0); requests go to 127.0.0.1 at its port.
            guard let range = text.range(of: #"] listening on (http://\S+:\d+)"#, options: .regularExpression) else { return nil }
            let admin = String(String(text[range]).dropFirst("] listening on ".count))
            let s3Range = text.range(of: #"S3 endpoint listening on (http://127\.0\.0\.1:\d+)"#, options: .regularExpression)
            if s3, s3Range == nil { return nil }
            return (admin, s3Range.map { String(String(text[$0]).dropFirst("S3 endpoint listening on ".count)) })
        }
        if let found { return found }
        process.terminate()
        throw NSError(domain: "ApplianceProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "appliance did not start: \(log.text)"])
    }

    /// SIGTERM, wait; returns the exit status.
    @discardableResult
    func stop(removeData: Bool = true) -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        if removeData && ownsDataDir { try? FileManager.default.removeItem(at: dataDir) }
        return process.terminationStatus
    }

    func request(
        _ method: String, _ path: String, json: Any? = nil, body: Data? = nil, auth: Bool = true,
        headers: [String: String] = [:]
    ) async throws -> HTTPResult {
        var fields: [(String, String)] = auth ? [("Authorization", "Bearer \(token)")] : []
        fields += headers.map { ($0.key, $0.value) }
        var payload = body
        if let json {
            payload = try JSONSerialization.data(withJSONObject: json)
            fields.append(("Content-Type", "application/json"))
        }
        let port = baseURL.port!
        let bytes = payload.map { [UInt8]($0) }
        let sendable = fields
        // On a thread of its own: the blocking exchange must not hold a thread of the test pool.
        let response = try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(
                    with: Result { try HTTPConnection(port: port, timeout: 120).exchange(method, path, headers: sendable, body: bytes) })
            }.start()
        }
        return HTTPResult(status: response.status, headers: response.headers, body: Data(response.body))
    }

    /// A sparse file of `size` bytes in this appliance's temp area (outside its data dir).
    static func sparseFile(size: Int64, in dir: URL, name: String = UUID().uuidString) throws -> URL {
        let url = dir.appendingPathComponent(name)
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(size))
        try handle.close()
        return url
    }
}
