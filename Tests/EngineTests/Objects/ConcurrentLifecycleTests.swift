import Foundation
import Synchronization
import Testing

// Several threads drive one Engine with random PUT / PATCH / GET / HEAD / DELETE / flush on a
// small shared key set, buffered and direct, sync and async. Every byte read must belong to a
// version written for that key; afterwards no range may be freed twice or leaked, reservations
// return to zero after a flush, and a restart shows the same bytes. (A DELETE racing a buffered
// PUT and its writeback once freed the old version's space twice.)
@testable import Engine

@Suite(.serialized) struct ConcurrentLifecycleTests {
    /// Object bytes are 8-byte words `tag << 32 | (word index ^ key salt)`: any word read tells
    /// which write put it there and whether it sits at its own offset of its own key.
    static func body(tag: UInt32, salt: UInt32, from offset: Int, count: Int) -> [UInt8] {
        precondition(offset % 8 == 0 && count % 8 == 0)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            for w in 0..<count / 8 {
                let index = UInt32(truncatingIfNeeded: offset / 8 + w)
                raw.storeBytes(of: (UInt64(tag) << 32 | UInt64(index ^ salt)).littleEndian, toByteOffset: w * 8, as: UInt64.self)
            }
        }
        return bytes
    }

    /// Why `bytes` cannot be a version of the key (nil when every word is one that a PUT or a
    /// PATCH of it wrote at that offset, or zero fill from a PATCH past the end).
    static func problem(_ bytes: [UInt8], salt: UInt32, written: Set<UInt32>) -> String? {
        guard bytes.count % 8 == 0 else { return "size \(bytes.count) is not a multiple of 8" }
        return bytes.withUnsafeBytes { raw -> String? in
            for w in 0..<bytes.count / 8 {
                let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: w * 8, as: UInt64.self))
                if word == 0 { continue }
                let tag = UInt32(word >> 32)
                let index = UInt32(truncatingIfNeeded: word) ^ salt
                if index != UInt32(truncatingIfNeeded: w) {
                    let owner = keys.first { UInt32(truncatingIfNeeded: word) ^ Self.salt($0) < 1 << 20 }
                    let at = owner.map { UInt32(truncatingIfNeeded: word) ^ Self.salt($0) }
                    return "word \(w) of \(bytes.count / 8) holds tag \(tag) word \(at.map(String.init) ?? "?") of \(owner ?? "no key")"
                }
                if !written.contains(tag) { return "word \(w) holds tag \(tag), never written to this key" }
            }
            return nil
        }
    }

    /// Tags started for each key (a write may be refused, but a tag never read unless started).
    final class Ledger: Sendable {
        let tags = Mutex<[String: Set<UInt32>]>([:])
        let next = Atomic<UInt32>(1)
        let failures = Mutex<[String]>([])

        func start(_ key: String) -> UInt32 {
            let tag = next.add(1, ordering: .relaxed).oldValue
            tags.withLock { _ = $0[key, default: []].insert(tag) }
            return tag
        }

        func written(_ key: String) -> Set<UInt32> { tags.withLock { $0[key] ?? [] } }
        func fail(_ message: String) { failures.withLock { $0.append(message) } }
    }

    static let keys = ["k0", "k1", "k2", "k3/nested"]
    static func salt(_ key: String) -> UInt32 { UInt32(keys.firstIndex(of: key)! + 1) * 0x0101_0101 }

    static func read(_ engine: Engine, _ volume: String, _ key: String, direct: Bool) throws -> [UInt8] {
        if direct {
            let reader = try engine.openObject(volume: volume, key: key)
            defer { reader.close() }
            var bytes = [UInt8](repeating: 0xEE, count: Int(reader.info.size))
            var at = 0
            while at < bytes.count {
                let n = try bytes.withUnsafeMutableBytes { raw in
                    try reader.read(at: Int64(at), into: UnsafeMutableRawBufferPointer(rebasing: raw[at...]))
                }
                if n == 0 { break }
                at += n
            }
            return bytes
        }
        let reader = try engine.openBuffered(volume: volume, key: key)
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0xEE, count: Int(reader.info.size))
        var at = 0
        while at < bytes.count {
            let end = min(bytes.count, at + 5000)
            let n = try bytes.withUnsafeMutableBytes { raw in
                try reader.read(at: Int64(at), into: UnsafeMutableRawBufferPointer(rebasing: raw[at..<end]))
            }
            if n == 0 { break }
            at += n
        }
        return bytes
    }

    /// One thread's share of the load.
    static func drive(_ engine: Engine, volume: String, ledger: Ledger, seed: UInt64, operations: Int) {
        var rng = SplitMix(state: seed)
        for _ in 0..<operations {
            let key = keys.randomElement(using: &rng)!
            let salt = salt(key)
            let choice = Int.random(in: 0..<20, using: &rng)
            do {
                switch choice {
                case 0..<5:  // PUT: small or medium, buffered sync / async or direct
                    let size = Bool.random(using: &rng) ? Int.random(in: 1...2048, using: &rng) * 8 : Int.random(in: 8192...40_000, using: &rng) * 8
                    let tag = ledger.start(key)
                    let data = body(tag: tag, salt: salt, from: 0, count: size)
                    switch Int.random(in: 0..<3, using: &rng) {
                    case 0:
                        let writer = try engine.beginUpload(
                            volume: volume, key: key, contentType: nil, length: Int64(size), cacheThrough: Bool.random(using: &rng))
                        try data.withUnsafeBytes { try writer.append($0) }
                        _ = try writer.commit()
                    default:
                        let upload = try engine.beginBufferedUpload(volume: volume, key: key, contentType: nil, length: Int64(size), mode: .replace)!
                        try data.withUnsafeBytes { try upload.append($0) }
                        _ = try upload.finish(sync: Bool.random(using: &rng))
                    }
                case 5..<8:  // PATCH at a word-aligned offset
                    let offset = Int.random(in: 0...20_000, using: &rng) * 8
                    let count = Int.random(in: 1...3000, using: &rng) * 8
                    let tag = ledger.start(key)
                    let data = body(tag: tag, salt: salt, from: offset, count: count)
                    let upload = try engine.beginBufferedUpload(
                        volume: volume, key: key, contentType: nil, length: Int64(count), mode: .patch(offset: Int64(offset)))!
                    try data.withUnsafeBytes { try upload.append($0) }
                    _ = try upload.finish(sync: Bool.random(using: &rng))
                case 8..<13:  // GET, buffered or direct
                    let direct = Bool.random(using: &rng)
                    let bytes = try read(engine, volume, key, direct: direct)
                    if let problem = problem(bytes, salt: salt, written: ledger.written(key)) {
                        ledger.fail("\(direct ? "direct" : "buffered") GET \(key): \(problem)")
                    }
                case 13..<15:  // HEAD
                    let reader = try engine.openBuffered(volume: volume, key: key)
                    reader.close()
                case 15..<18:
                    try engine.deleteObject(volume: volume, key: key)
                default:
                    try engine.flushVolume(named: volume)
                }
            } catch EngineError.objectNotFound {
                // The key was deleted meanwhile (GET, HEAD, PATCH or DELETE of a missing key).
            } catch {
                ledger.fail("operation \(choice) on \(key): \(error)")
            }
        }
    }

    static func checkSpace(_ engine: Engine, _ when: String) {
        let problems = engine.spaceAudit()
        #expect(problems.isEmpty, "\(when): \(problems.joined(separator: "; "))")
    }

    @Test(arguments: [(Int64(1), UInt64(11)), (Int64(2), UInt64(23))])
    func sharedKeysUnderManyThreads(replicas: Int64, seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "shared", capacity: 96 << 20, replicas: replicas)
        let ledger = Ledger()
        let threads = Int(ProcessInfo.processInfo.environment["LIFECYCLE_THREADS"] ?? "6")!
        let done = DispatchGroup()
        for t in 0..<threads {
            done.enter()
            let thread = Thread {
                Self.drive(engine, volume: "shared", ledger: ledger, seed: seed &* 1000 &+ UInt64(t), operations: 600)
                done.leave()
            }
            thread.start()
        }
        done.wait()
        for failure in ledger.failures.withLock({ $0 }) { Issue.record("\(failure)") }

        try engine.flushVolume(named: "shared")
        let figures = engine.reservationFigures()
        #expect(figures.pagesReserved == 0 && figures.accounted == 0, "reservations after a flush: \(figures)")
        Self.checkSpace(engine, "after the run")
        try SpaceCountersTests.expectCountersMatchRecount(engine, "after the run")
        var contents: [String: [UInt8]] = [:]
        for key in Self.keys {
            guard let bytes = try? Self.read(engine, "shared", key, direct: true) else { continue }
            if let problem = Self.problem(bytes, salt: Self.salt(key), written: ledger.written(key)) {
                Issue.record("\(key) after the run: \(problem)")
            }
            contents[key] = bytes
        }
        engine.shutdown()

        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        Self.checkSpace(reopened, "after a restart")
        try SpaceCountersTests.expectCountersMatchRecount(reopened, "after a restart")
        for key in Self.keys {
            let bytes = try? Self.read(reopened, "shared", key, direct: true)
            #expect(bytes == contents[key], "\(key) after a restart")
        }
    }
}
