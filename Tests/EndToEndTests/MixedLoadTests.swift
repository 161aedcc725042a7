// Mixed load against the real binary. 64 keep-alive clients (one thread and one blocking HTTP/1.1
// connection each) loop over a random mix of PUT / GET / HEAD / DELETE on 200 shared keys in two
// volumes (thin, 2 GiB; replicas 1 and 2 over the harness's two devices), with small (64 B-16 KiB)
// and medium (64 KiB-1 MiB) bodies, a third of the PUTs `?durability=async`.
// Every body describes itself: bytes 0-7 are its version id, 8-15 its key's hash, the rest a
// pseudo-random stream seeded by both, and its length follows from the version id. So every GET
// body is checked byte for byte and must be a version some client started to PUT under that key
// (or a 404); a HEAD's Content-Length must be such a version's length.
// Meanwhile a separate process (scripts/healthz_probe.py) GETs /healthz every 100 ms, and every
// 5 s the ops/s so far and the server's VmRSS are printed.
// Asserts: no error (unexpected status, reset, close, 30 s timeout), no wrong body, the server
// alive at the end and stopping with 0, every probe answered 200 and their p99 under 100 ms.
//
// Duration: 20 s; APPLIANCE_LOAD_SECONDS overrides it for a soak that prints RSS over time, e.g.
//   APPLIANCE_LOAD_SECONDS=600 swift test --filter MixedLoadTests
import Engine
import Foundation
import Glibc
import Synchronization
import Testing

@Suite struct MixedLoadTests {
    static let clients = 64
    static let keyCount = 200
    static let volumes = ["load-r1", "load-r2"]  // key k lives in volumes[k % 2]; replicas 1 and 2

    @Test func keepAliveClientsUnderMixedLoadGetRightBodiesAndAPromptHealthz() async throws {
        let seconds = Int(ProcessInfo.processInfo.environment["APPLIANCE_LOAD_SECONDS"] ?? "") ?? 20
        let app = try ApplianceProcess(extraArguments: ["--device-size", String(1 << 30)])
        defer { app.stop() }
        for (i, name) in Self.volumes.enumerated() {
            try await ObjectEndToEndTests.makeVolume(app, name, capacity: 2 << 30, replicas: i + 1)
        }
        let port = try #require(app.baseURL.port)
        let token = app.token
        let pid = app.process.processIdentifier
        let state = LoadState()
        let probe = try HealthProbe(url: app.baseURL.absoluteString + "/healthz", seconds: seconds)
        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        for index in 0..<Self.clients {
            Thread.detachNewThread { LoadClient.run(index, port: port, token: token, until: deadline, state: state) }
        }

        var nextSample = start + .seconds(5)
        var lastOps = 0
        var peakRSS = 0
        while state.finished.withLock({ $0 }) < Self.clients, ContinuousClock.now < deadline + .seconds(90) {
            try await Task.sleep(for: .milliseconds(250))
            guard ContinuousClock.now >= nextSample else { continue }
            nextSample += .seconds(5)
            let tally = state.tally.withLock { $0 }
            let rss = Self.rssKiB(pid) ?? 0
            peakRSS = max(peakRSS, rss)
            print(
                "[load] \(Self.format(ContinuousClock.now - start)) s: \(tally.ops) ops (\((tally.ops - lastOps) / 5)/s), "
                    + "\(tally.errors) errors, \(tally.wrongBodies) wrong bodies, server VmRSS \(rss >> 10) MiB")
            lastOps = tally.ops
        }
        let elapsed = ContinuousClock.now - start
        let tally = state.tally.withLock { $0 }
        let health = probe.finish()
        let rss = Self.rssKiB(pid) ?? 0
        print(
            "[load] \(tally.ops) ops in \(Self.format(elapsed)) s: \(Int(Double(tally.ops) / Self.secondsIn(elapsed))) ops/s; "
                + tally.statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        print("[load] server VmRSS \(rss >> 10) MiB at the end, peak sampled \(max(peakRSS, rss) >> 10) MiB; healthz \(health)")

        #expect(state.finished.withLock { $0 } == Self.clients, "clients still running 90 s after the deadline")
        #expect(tally.errors == 0, "\(tally.errors) errors: \(tally.messages.joined(separator: "; "))")
        #expect(tally.wrongBodies == 0, "\(tally.wrongBodies) wrong bodies: \(tally.messages.joined(separator: "; "))")
        #expect(tally.ops > Self.clients)
        #expect(app.process.isRunning, "the appliance died under load")
        let probes = health["probes"] as? Int ?? 0
        #expect(probes >= seconds * 5, "only \(probes) healthz probes in \(seconds) s")
        #expect(health["failed"] as? Int == 0, "failed healthz probes: \(health["errors"] ?? "no summary")")
        #expect((health["p99_ms"] as? Double ?? .infinity) < 100, "healthz p99 \(health["p99_ms"] ?? "?") ms")
        #expect(app.stop() == 0)
    }

    /// VmRSS of process `pid` in KiB (/proc/<pid>/status, one read: the file is ~1.5 KiB).
    static func rssKiB(_ pid: Int32) -> Int? {
        let fd = open("/proc/\(pid)/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 16384)
        let n = read(fd, &bytes, bytes.count)
        guard n > 0 else { return nil }
        let line = String(decoding: bytes[0..<n], as: UTF8.self).split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
        return line?.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap { Int($0) }
    }

    static func secondsIn(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func format(_ duration: Duration) -> String { String(format: "%.1f", secondsIn(duration)) }
}

/// What the clients share: the versions started per key, the tally, how many clients are done.
final class LoadState: Sendable {
    struct Tally: Sendable {
        var ops = 0
        var statuses: [String: Int] = [:]  // "GET 404": count
        var errors = 0
        var wrongBodies = 0
        var messages: [String] = []  // the first 20 errors and wrong bodies
    }

    let versions = Mutex([Set<UInt64>](repeating: [], count: MixedLoadTests.keyCount))
    let tally = Mutex(Tally())
    let finished = Mutex(0)

    func started(_ version: UInt64, key: Int) { versions.withLock { _ = $0[key].insert(version) } }
    func wasStarted(_ version: UInt64, key: Int) -> Bool { versions.withLock { $0[key].contains(version) } }
    func someVersion(of key: Int, hasLength length: Int) -> Bool {
        versions.withLock { $0[key].contains { version in SelfDescribingBody.length(version) == length } }
    }

    func record(_ method: String, _ status: Int) {
        tally.withLock {
            $0.ops += 1; $0.statuses["\(method) \(status)", default: 0] += 1
        }
    }
    func error(_ message: String) {
        tally.withLock {
            $0.errors += 1; if $0.messages.count < 20 { $0.messages.append(message) }
        }
    }
    func wrongBody(_ message: String) {
        tally.withLock {
            $0.wrongBodies += 1; if $0.messages.count < 20 { $0.messages.append(message) }
        }
    }
}

/// A body rebuilt from (key, version id) alone: [version id][key hash][stream seeded by both].
enum SelfDescribingBody {
    static func keyHash(_ key: Int) -> UInt64 {
        var random = SplitMix(state: UInt64(key) ^ 0x6B65_7973_6B65_7973)
        return random.next()
    }

    /// A quarter are medium (64 KiB-1 MiB), the rest small (64 B-16 KiB).
    static func length(_ version: UInt64) -> Int {
        var random = SplitMix(state: version)
        let r = random.next()
        return r % 4 == 0 ? 65536 + Int((r >> 2) % UInt64((1 << 20) - 65536 + 1)) : 64 + Int((r >> 2) % (16384 - 64 + 1))
    }

    static func make(key: Int, version: UInt64) -> [UInt8] {
        let count = length(version)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: version, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: keyHash(key), toByteOffset: 8, as: UInt64.self)
            var random = SplitMix(state: keyHash(key) ^ version)
            var offset = 16
            while offset + 8 <= count {
                raw.storeBytes(of: random.next(), toByteOffset: offset, as: UInt64.self)
                offset += 8
            }
            var last = random.next()
            while offset < count {
                raw[offset] = UInt8(truncatingIfNeeded: last)
                last >>= 8
                offset += 1
            }
        }
        return bytes
    }

    /// Why `bytes` is not a version some client started to PUT under `key`; nil when it is one.
    static func problem(_ bytes: [UInt8], key: Int, state: LoadState) -> String? {
        guard bytes.count >= 16 else { return "a \(bytes.count)-byte body" }
        let version = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self) }
        let hash = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self) }
        guard hash == keyHash(key) else { return "a body of another key (version \(version))" }
        guard state.wasStarted(version, key: key) else { return "version \(version), never PUT under this key" }
        let expected = make(key: key, version: version)
        guard expected.count == bytes.count else { return "\(bytes.count) bytes of version \(version), which has \(expected.count)" }
        let same = expected.withUnsafeBytes { e in bytes.withUnsafeBytes { memcmp(e.baseAddress!, $0.baseAddress!, e.count) == 0 } }
        if same { return nil }
        let offset = (0..<bytes.count).first { expected[$0] != bytes[$0] } ?? -1
        return "version \(version) differs from byte \(offset) of \(bytes.count)"
    }
}

enum LoadClient {
    /// One client's loop; after an error it goes on over a new connection.
    static func run(_ index: Int, port: Int, token: String, until deadline: ContinuousClock.Instant, state: LoadState) {
        defer { state.finished.withLock { $0 += 1 } }
        var random = SplitMix(state: UInt64(index + 1) &* 0x2545_F491_4F6C_DD1D)
        var connection: HTTPConnection?
        var puts: UInt64 = 0
        while ContinuousClock.now < deadline {
            let key = Int.random(in: 0..<MixedLoadTests.keyCount, using: &random)
            let target = "/v1/volumes/\(MixedLoadTests.volumes[key % MixedLoadTests.volumes.count])/objects/k\(key)"
            let roll = Int.random(in: 0..<100, using: &random)
            let method = roll < 35 ? "PUT" : roll < 75 ? "GET" : roll < 90 ? "HEAD" : "DELETE"
            let what = "client \(index) \(method) \(target)"
            do {
                if connection == nil { connection = try HTTPConnection(port: port, timeout: 30) }
                let response: (status: Int, headers: [String: String], body: [UInt8])
                let expected: Set<Int>
                switch method {
                case "PUT":
                    puts += 1
                    let version = UInt64(index + 1) << 40 | puts  // unique across clients
                    state.started(version, key: key)  // before sending: a GET may see it at once
                    let async = Int.random(in: 0..<3, using: &random) == 0
                    let body = SelfDescribingBody.make(key: key, version: version)
                    response = try connection!.keepAliveExchange("PUT", target + (async ? "?durability=async" : ""), token: token, body: body)
                    expected = [200, 201]
                case "DELETE":
                    response = try connection!.keepAliveExchange("DELETE", target, token: token)
                    expected = [204, 404]
                default:
                    response = try connection!.keepAliveExchange(method, target, token: token)
                    expected = [200, 404]
                }
                state.record(method, response.status)
                guard expected.contains(response.status) else {
                    state.error("\(what): \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
                    continue
                }
                if method == "GET", response.status == 200,
                    let problem = SelfDescribingBody.problem(response.body, key: key, state: state)
                {
                    state.wrongBody("\(what): \(problem)")
                }
                if method == "HEAD", response.status == 200 {
                    let length = response.headers["content-length"].flatMap { Int($0) } ?? -1
                    if !state.someVersion(of: key, hasLength: length) { state.wrongBody("\(what): Content-Length \(length) of no version") }
                }
            } catch {
                state.error("\(what): \(error)")
                connection = nil
            }
        }
    }
}

/// scripts/healthz_probe.py in its own process, so its timing does not share the test's threads.
struct HealthProbe {
    let process = Process()
    let output = Pipe()

    init(url: String, seconds: Int) throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", root.appendingPathComponent("scripts/healthz_probe.py").path,
            "--url", url, "--interval", "0.1", "--duration", String(seconds),
        ]
        process.standardOutput = output
        try process.run()
    }

    /// Waits for the probe to end; its summary: probes, failed, p50_ms, p99_ms, max_ms, errors.
    func finish() -> [String: Any] {
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}
