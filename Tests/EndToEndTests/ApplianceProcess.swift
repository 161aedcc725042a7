// Test harness: starts the real `appliance` binary on 127.0.0.1:0 with a temp data dir and
// speaks HTTP to it.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
        process.arguments = [
            "serve", "--listen", "127.0.0.1:0", "--data-dir", dataDirArgument, "--device-size", String(256 << 20),
        ] + (extraArguments.contains("--s3-listen") ? [] : ["--s3-listen", "127.0.0.1:0"]) + extraArguments
        let wantsS3 = !(extraArguments.firstIndex(of: "--s3-listen").map { extraArguments[$0 + 1] == "off" } ?? false)
        process.standardError = stderrPipe
        process.standardOutput = FileHandle.nullDevice
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
        let handle = stderrPipe.fileHandleForReading
        var log = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let chunk = handle.availableData
            if chunk.isEmpty {
                if !process.isRunning { break }
                continue
            }
            log += String(decoding: chunk, as: UTF8.self)
            if let range = log.range(of: #"] listening on (http://127\.0\.0\.1:\d+)"#, options: .regularExpression) {
                let admin = String(String(log[range]).dropFirst("] listening on ".count))
                let s3Range = log.range(of: #"S3 endpoint listening on (http://127\.0\.0\.1:\d+)"#, options: .regularExpression)
                if s3, s3Range == nil { continue }
                // Keep draining stderr so the child never blocks on a full pipe.
                handle.readabilityHandler = { _ = $0.availableData }
                return (admin, s3Range.map { String(String(log[$0]).dropFirst("S3 endpoint listening on ".count)) })
            }
        }
        process.terminate()
        throw NSError(domain: "ApplianceProcess", code: 1, userInfo: [NSLocalizedDescriptionKey: "appliance did not start: \(log)"])
    }

    /// SIGTERM, wait; returns the exit status.
    @discardableResult
    func stop(removeData: Bool = true) -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        stderrPipe.fileHandleForReading.readabilityHandler = nil
        if removeData && ownsDataDir { try? FileManager.default.removeItem(at: dataDir) }
        return process.terminationStatus
    }

    func request(
        _ method: String, _ path: String, json: Any? = nil, body: Data? = nil, auth: Bool = true,
        headers: [String: String] = [:]
    ) async throws -> HTTPResult {
        var request = URLRequest(url: URL(string: baseURL.absoluteString + path)!)
        request.httpMethod = method
        if auth { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        } else if let body {
            request.httpBody = body
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (key, value) in http.allHeaderFields { fields["\(key)"] = "\(value)" }
        return HTTPResult(status: http.statusCode, headers: fields, body: data)
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
