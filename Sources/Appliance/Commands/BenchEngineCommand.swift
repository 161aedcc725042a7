// `appliance bench-engine`: measures the engine's real object path (no HTTP) on one fresh file
// device, and prints machine-readable `engine <name> <value>` lines for scripts/bench.sh, which
// runs fio on the same device file, before or after (it alternates).
import ArgumentParser
import CoreFoundation  // stat()'s fields, as the X509 dependency makes Swift see them
import Engine
import Foundation
import Glibc
import Logging
import Synchronization

struct BenchEngineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-engine",
        abstract: "Benchmark the engine's object path on a fresh data directory (used by `make bench`).",
        discussion: """
            Creates <dir>/dev.img (sparse, --size-mib MiB) as the only device, a volume with one replica, then:
            seq write (one object of size/2 MiB in 1 MiB appends, commit incl. fdatasync), seq read (1 MiB
            reads), and 4 KiB random reads at QD32 for --seconds each way: one thread keeping 32 reads in
            flight on one ring (`ObjectReader.readMany`, as fio does), then 32 threads with one blocking
            read each. Checksums are verified. Output lines: `engine <metric> <value>`. The device file
            is left in place. With --existing-device, <dir>/dev.img is the caller's (a file of exactly
            --size-mib MiB, alone in <dir>), so that fio can write its tail before the engine runs.
            """)

    @Option(help: "Fresh data directory (must not exist or be empty); the device file is <dir>/dev.img.")
    var dir: String

    @Flag(help: "Use the existing <dir>/dev.img (exactly --size-mib MiB, alone in <dir>) instead of creating it.")
    var existingDevice = false

    @Option(help: "Device file size in MiB (the object is half of it).")
    var sizeMib: Int = 2048

    @Option(help: "Duration of the random-read phase in seconds.")
    var seconds: Int = 10

    @Option(help: "Outstanding 4 KiB reads in the random-read phases (pipelined depth, and threads).")
    var threads: Int = 32

    func validate() throws {
        guard sizeMib >= 128 else { throw ValidationError("--size-mib must be at least 128") }
        guard seconds >= 1 else { throw ValidationError("--seconds must be at least 1") }
        guard (1...1024).contains(threads) else { throw ValidationError("--threads must be 1...1024") }
        guard dir.hasPrefix("/") else { throw ValidationError("--dir must be absolute") }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "bench-engine")
        let devicePath = dir + "/dev.img"
        let deviceBytes = Int64(sizeMib) << 20
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        if existingDevice {
            guard entries == ["dev.img"] else {
                throw ValidationError("--existing-device: \(dir) must hold dev.img and nothing else (it holds \(entries))")
            }
            var st = stat()
            guard stat(devicePath, &st) == 0, st.st_mode & S_IFMT == S_IFREG, Int64(st.st_size) == deviceBytes else {
                throw ValidationError("--existing-device: \(devicePath) must be a regular file of \(deviceBytes) bytes")
            }
        } else {
            guard entries.isEmpty else { throw ValidationError("\(dir) is not empty; bench-engine needs a fresh directory") }
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let fd = open(devicePath, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw ValidationError("cannot create \(devicePath): \(String(cString: strerror(errno)))") }
            let truncated = ftruncate(fd, off_t(deviceBytes))
            close(fd)
            guard truncated == 0 else { throw ValidationError("cannot size \(devicePath): \(String(cString: strerror(errno)))") }
        }

        // The catalog in a directory of its own: no device may lie inside a data directory. With
        // --existing-device, fio has written the file's tail, which the blank check would refuse.
        let engine = try Engine.open(dataDirectory: dir + "/catalog", logger: logger)
        defer { engine.shutdown() }
        let device = try engine.addDevice(path: devicePath, label: "bench", force: existingDevice)
        _ = try engine.createVolume(name: "bench", capacityBytes: deviceBytes, replicas: 1, provisioning: .thin)
        emit("device", devicePath)
        emit("device_bytes", deviceBytes)
        emit("device_data_offset", deviceBytes - device.capacityBytes)

        // seq write: one object of size/2 MiB, 1 MiB appends, commit (writes the tail, fdatasyncs, commits).
        let chunk = 1 << 20
        let objectBytes = Int64(sizeMib / 2) << 20
        let key = "bench-object"
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { source.deallocate() }
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        for i in 0..<chunk / 8 { source.storeBytes(of: splitMix(&seed), toByteOffset: i * 8, as: UInt64.self) }
        var start = ContinuousClock.now
        let writer = try engine.beginUpload(volume: "bench", key: key, contentType: "application/octet-stream", length: objectBytes)
        for _ in 0..<objectBytes / Int64(chunk) { try writer.append(UnsafeRawBufferPointer(source)) }
        let info = try writer.commit()
        let writeSeconds = (ContinuousClock.now - start).seconds
        emit("object_bytes", info.size)
        emit("seqwrite_seconds", String(format: "%.3f", writeSeconds))
        emit("seqwrite_mibs", String(format: "%.0f", Double(objectBytes) / 1048576 / writeSeconds))

        // seq read: front to back in 1 MiB reads.
        let sink = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { sink.deallocate() }
        start = ContinuousClock.now
        let reader = try engine.openObject(volume: "bench", key: key)
        var offset: Int64 = 0
        while true {
            let n = try reader.read(at: offset, into: sink)
            if n == 0 { break }
            offset += Int64(n)
        }
        let readSeconds = (ContinuousClock.now - start).seconds
        guard offset == objectBytes else { throw ValidationError("seq read returned \(offset) of \(objectBytes) bytes") }
        // Spot-check content outside the timed loop (every 1 MiB chunk of the object is `source`).
        for probe in [0, objectBytes - Int64(chunk)] {
            guard try reader.read(at: probe, into: sink) == chunk, memcmp(sink.baseAddress!, source.baseAddress!, chunk) == 0 else {
                throw ValidationError("seq read: content differs from what was written at offset \(probe)")
            }
        }
        reader.close()
        emit("seqread_seconds", String(format: "%.3f", readSeconds))
        emit("seqread_mibs", String(format: "%.0f", Double(objectBytes) / 1048576 / readSeconds))

        // 4 KiB random reads at QD = threads: first pipelined from one thread, then one blocking
        // read per thread, each its own ObjectReader.
        let pipelined = try pipelinedRandomReads(engine: engine, key: key, objectBytes: objectBytes)
        emit("randread4k_depth", threads)
        emit("randread4k_seconds", String(format: "%.3f", pipelined.seconds))
        emit("randread4k_ops", pipelined.ops)
        emit("randread4k_iops", String(format: "%.0f", Double(pipelined.ops) / pipelined.seconds))
        let result = try randomReads(engine: engine, key: key, objectBytes: objectBytes)
        emit("randread4k_threads", threads)
        emit("randread4k_threads_seconds", String(format: "%.3f", result.seconds))
        emit("randread4k_threads_iops", String(format: "%.0f", Double(result.ops) / result.seconds))
        emit("randread4k_threads_p50_us", String(format: "%.0f", result.p50Micros))
        emit("randread4k_threads_p99_us", String(format: "%.0f", result.p99Micros))
    }

    private func emit(_ name: String, _ value: some CustomStringConvertible) {
        print("engine \(name) \(value)")
        fflush(nil)  // all output streams; stdout itself is not concurrency-safe to name
    }

    /// One thread, one reader, `threads` reads in flight: rounds of 4096 until the time is up.
    private func pipelinedRandomReads(engine: Engine, key: String, objectBytes: Int64) throws -> (ops: Int, seconds: Double) {
        let blocks = objectBytes / 4096
        let reader = try engine.openObject(volume: "bench", key: key)
        defer { reader.close() }
        let round = 4096
        // A buffer per read of a round: a read's buffer is never reused while it may be in flight.
        let buffers = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096 * round, alignment: 4096)
        defer { buffers.deallocate() }
        var rng: UInt64 = 0x5EED
        var ops = 0
        var failure: String?
        let begin = ContinuousClock.now
        let deadline = begin + .seconds(seconds)
        while failure == nil, ContinuousClock.now < deadline {
            reader.readMany(
                count: round, depth: threads,
                range: { i in
                    (Int64(splitMix(&rng) % UInt64(blocks)) * 4096, UnsafeMutableRawBufferPointer(rebasing: buffers[i * 4096..<(i + 1) * 4096]))
                },
                done: { i, result in
                    switch result {
                    case .success(4096): ops += 1
                    case .success(let n): failure = failure ?? "short read \(n) (read \(i))"
                    case .failure(let error): failure = failure ?? "read \(i): \(error)"
                    }
                })
        }
        let elapsed = (ContinuousClock.now - begin).seconds
        if let failure { throw ValidationError("pipelined random reads failed: \(failure)") }
        return (ops, elapsed)
    }

    private func randomReads(engine: Engine, key: String, objectBytes: Int64) throws -> (
        ops: Int, seconds: Double, p50Micros: Double, p99Micros: Double
    ) {
        let blocks = objectBytes / 4096
        let readers = try (0..<threads).map { _ in try engine.openObject(volume: "bench", key: key) }
        defer { readers.forEach { $0.close() } }
        let shared = RandomReadState(threads: threads)
        let done = DispatchGroup()
        let duration = Duration.seconds(seconds)
        let begin = ContinuousClock.now
        for (index, reader) in readers.enumerated() {
            done.enter()
            let thread = Thread {
                defer { done.leave() }
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 4096)
                defer { buffer.deallocate() }
                var rng = UInt64(index + 1) &* 0xD1B5_4A32_D192_ED03
                var ops = 0
                var latencies: [UInt32] = []  // microseconds, capped
                latencies.reserveCapacity(1 << 16)
                let deadline = begin + duration
                while shared.failure.withLock({ $0 == nil }) {
                    let t0 = ContinuousClock.now
                    if t0 >= deadline { break }
                    let offset = Int64(splitMix(&rng) % UInt64(blocks)) * 4096
                    do {
                        let n = try reader.read(at: offset, into: buffer)
                        if n != 4096 {
                            shared.failure.withLock { $0 = $0 ?? "short read \(n) at \(offset)" }
                            break
                        }
                    } catch {
                        shared.failure.withLock { $0 = $0 ?? "read at \(offset): \(error)" }
                        break
                    }
                    ops += 1
                    let micros = (ContinuousClock.now - t0).seconds * 1e6
                    latencies.append(UInt32(min(micros, Double(UInt32.max))))
                }
                shared.finish(ops: ops, latencies: latencies)
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        done.wait()
        let elapsed = (ContinuousClock.now - begin).seconds
        if let failure = shared.failure.withLock({ $0 }) { throw ValidationError("random reads failed: \(failure)") }
        let (ops, latencies) = shared.totals()
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))])
        }
        return (ops, elapsed, percentile(0.50), percentile(0.99))
    }
}

/// What the random-read threads share: the first failure, and their totals.
private final class RandomReadState: Sendable {
    let failure = Mutex<String?>(nil)
    private let results = Mutex<(ops: Int, latencies: [UInt32])>((0, []))

    init(threads: Int) {}

    func finish(ops: Int, latencies: [UInt32]) {
        results.withLock {
            $0.ops += ops
            $0.latencies += latencies
        }
    }

    func totals() -> (Int, [UInt32]) { results.withLock { ($0.ops, $0.latencies) } }
}

private func splitMix(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

extension Duration {
    fileprivate var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
