import Foundation
import Testing

// Model-based test of buffered and direct IO together: random PUTs (buffered sync/async and
// direct), PATCHes at random offsets, reads both ways, deletes and flushes on a few objects,
// checked against an in-memory model after every step, with the reservation invariant.
@testable import Engine

@Suite(.serialized) struct BufferedModelTests {
    static func put(_ engine: Engine, _ key: String, _ data: [UInt8], direct: Bool, sync: Bool) throws {
        if direct {
            try Scratch.upload(engine, "model", key, data)
        } else {
            try Scratch.bufferedUpload(engine, "model", key, data, sync: sync)
        }
    }

    static func patch(_ engine: Engine, _ key: String, offset: Int64, _ data: [UInt8], sync: Bool) throws {
        try Scratch.bufferedUpload(engine, "model", key, data, mode: .patch(offset: offset), sync: sync)
    }

    static func read(_ engine: Engine, _ key: String, direct: Bool) throws -> [UInt8] {
        if direct {
            let reader = try engine.openObject(volume: "model", key: key)
            defer { reader.close() }
            return try Scratch.readAll(count: Int(reader.info.size), fill: 0xEE) { try reader.read(at: $0, into: $1) }
        }
        let reader = try engine.openBuffered(volume: "model", key: key)
        defer { reader.close() }
        return try Scratch.readAll(count: Int(reader.info.size), chunk: 7000, fill: 0xEE) { try reader.read(at: $0, into: $1) }
    }

    static func checkReservations(_ engine: Engine) {
        let figures = engine.reservationFigures()
        #expect(figures.pagesReserved == figures.accounted, "per-page reservations \(figures.pagesReserved) != accounted \(figures.accounted)")
    }

    @Test(arguments: [7, 99, 2024])
    func randomOperationsMatchTheModel(seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "model", replicas: 2)
        defer { engine.shutdown() }
        var rng = SplitMix(state: seed)
        var model: [String: [UInt8]] = [:]
        let keys = ["k0", "k1", "k2"]
        for step in 0..<150 {
            let key = keys.randomElement(using: &rng)!
            switch Int.random(in: 0..<10, using: &rng) {
            case 0, 1:
                let data = (0..<Int.random(in: 0...40_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try Self.put(engine, key, data, direct: Bool.random(using: &rng), sync: Bool.random(using: &rng))
                model[key] = data
            case 2, 3, 4:
                guard var current = model[key] else {
                    #expect(throws: EngineError.self) { try Self.patch(engine, key, offset: 0, [1], sync: false) }
                    continue
                }
                let offset = Int.random(in: 0...(current.count + 5000), using: &rng)
                let data = (0..<Int.random(in: 1...12_000, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                try Self.patch(engine, key, offset: Int64(offset), data, sync: Bool.random(using: &rng))
                if current.count < offset + data.count { current += [UInt8](repeating: 0, count: offset + data.count - current.count) }
                current.replaceSubrange(offset..<offset + data.count, with: data)
                model[key] = current
            case 5, 6, 7:
                let direct = Bool.random(using: &rng)
                if let expected = model[key] {
                    let actual = try Self.read(engine, key, direct: direct)
                    #expect(actual == expected, "step \(step): \(direct ? "direct" : "buffered") read of \(key) differs")
                } else {
                    #expect(throws: EngineError.objectNotFound(volume: "model", key: key)) { _ = try Self.read(engine, key, direct: direct) }
                }
            case 8:
                if model[key] != nil {
                    try engine.deleteObject(volume: "model", key: key)
                    model[key] = nil
                }
            default:
                try engine.flushVolume(named: "model")
                let stats = try engine.cacheStats(volume: "model")
                #expect(stats.dirtyPages == 0)
                #expect(stats.reservedBytes == 0)
            }
            Self.checkReservations(engine)
        }
        try engine.flushVolume(named: "model")
        #expect(try engine.cacheStats(volume: "model").reservedBytes == 0)
        #expect(engine.reservationFigures().accounted == 0)
        // Everything acknowledged is on disk: a restart shows the model exactly.
        engine.shutdown()
        let reopened = try Scratch.engine(dir)
        defer { reopened.shutdown() }
        for (key, expected) in model {
            #expect(try Self.read(reopened, key, direct: true) == expected, "\(key) after restart")
        }
    }

    @Test func aVolumeFilledToItsQuotaWithAsyncWritesLosesNothing() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "model", capacity: 8 << 20)
        defer { engine.shutdown() }
        var written: [String: [UInt8]] = [:]
        var refused = 0
        for i in 0..<40 {
            let data = Scratch.randomBytes(300_000)
            do {
                try Self.put(engine, "o\(i)", data, direct: false, sync: false)
                written["o\(i)"] = data
            } catch EngineError.noSpace {
                refused += 1
            }
        }
        #expect(refused > 0, "the quota must have been reached")
        #expect(written.count == (8 << 20) / 300_000)
        try engine.flushVolume(named: "model")
        Self.checkReservations(engine)
        for (key, data) in written { #expect(try Self.read(engine, key, direct: true) == data) }
        #expect(try engine.volume(named: "model").usedBytes == Int64(written.count * 300_000))
    }
}
