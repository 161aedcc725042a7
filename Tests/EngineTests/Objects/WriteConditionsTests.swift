// Conditional writes (If-None-Match: *, If-Match) on every write path: a write its conditions
// refuse is refused when it opens, before its body; writes that all opened while the key was
// absent race to the commit and exactly one create-only write wins there (the cache's install, or
// the catalog commit with the key held); the losers leave nothing behind: no bytes, no
// reservation, no allocated space.
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct WriteConditionsTests {
    static let createOnly = WriteConditions(ifNoneMatch: .any)

    /// The write paths, by options and size: buffered through the cache (sync and async), a
    /// buffered write large enough to go to the direct writer, and the direct writer.
    static let paths: [(String, WriteOptions, Int)] = [
        ("buffered sync", WriteOptions(io: .buffered, sync: true), 20_000),
        ("buffered async", WriteOptions(io: .buffered, sync: false), 20_000),
        ("buffered, large", WriteOptions(io: .buffered, sync: true), 12 << 20),
        ("direct", WriteOptions(io: .direct, sync: true), 300_000),
    ]

    static func open(_ engine: Engine, _ key: String, _ options: WriteOptions, _ conditions: WriteConditions, length: Int) throws -> ObjectUpload {
        var options = options
        options.length = Int64(length)
        options.conditions = conditions
        return try engine.openWrite(volume: "vol", key: key, options)
    }

    @Test func aRefusedWriteIsRefusedWhenItOpensAndAnAllowedOneCommits() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        for (name, options, size) in Self.paths {
            let key = "k-\(name)"
            let first = Scratch.splitMixBytes(size, seed: 1)
            let upload = try Self.open(engine, key, options, Self.createOnly, length: size)
            try first.withUnsafeBytes { try upload.append($0) }
            let created = try upload.commit(etag: "one")
            #expect(try Scratch.readObject(engine, "vol", key) == first, "\(name): created")

            #expect(throws: EngineError.self, "\(name): create-only on an existing key") {
                try Self.open(engine, key, options, Self.createOnly, length: size)
            }
            #expect(throws: EngineError.self, "\(name): If-Match another ETag") {
                try Self.open(engine, key, options, WriteConditions(ifMatch: .list(["other"])), length: size)
            }
            #expect(throws: EngineError.objectNotFound(volume: "vol", key: "absent"), "\(name): If-Match on no object, as S3 answers") {
                try Self.open(engine, "absent", options, WriteConditions(ifMatch: .any, absentIsNotFound: true), length: size)
            }
            let second = Scratch.splitMixBytes(size, seed: 2)
            let replace = try Self.open(engine, key, options, WriteConditions(ifMatch: .list([created.etag])), length: size)
            try second.withUnsafeBytes { try replace.append($0) }
            _ = try replace.commit(etag: "two")
            #expect(try Scratch.readObject(engine, "vol", key) == second, "\(name): If-Match the current ETag replaces")
        }
        try engine.flushVolume(named: "vol")
        #expect(engine.spaceAudit().isEmpty)
    }

    @Test(arguments: 0..<4)
    func racingCreateOnlyWritesHaveExactlyOneWinner(path: Int) throws {
        let (name, options, size) = Self.paths[path]
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 160 << 20)
        let racers = 5
        for round in 0..<3 {
            let key = "race-\(round)"
            // Every write opens while the key is absent (each passes the check at open)...
            let uploads = try (0..<racers).map { _ in try Self.open(engine, key, options, Self.createOnly, length: size) }
            let bodies = (0..<racers).map { Scratch.splitMixBytes(size, seed: UInt64(round * 100 + $0)) }
            let outcomes = Mutex<[Int: Result<ObjectInfo, EngineError>]>([:])
            let start = DispatchGroup()
            start.enter()
            let done = DispatchGroup()
            // ...and all race to commit.
            for i in 0..<racers {
                done.enter()
                Thread {
                    start.wait()
                    let result: Result<ObjectInfo, EngineError>
                    do {
                        try bodies[i].withUnsafeBytes { try uploads[i].append($0) }
                        result = .success(try uploads[i].commit(etag: "etag-\(i)"))
                    } catch {
                        result = .failure(error as? EngineError ?? .catalog("\(error)"))
                    }
                    outcomes.withLock { $0[i] = result }
                    done.leave()
                }.start()
            }
            start.leave()
            done.wait()
            let results = outcomes.withLock { $0 }
            let winners = results.filter { if case .success = $0.value { true } else { false } }.map(\.key)
            #expect(winners.count == 1, "\(name), round \(round): \(results)")
            for (i, result) in results where !winners.contains(i) {
                if case .failure(let error) = result {
                    #expect(error.kind == .precondition, "\(name), round \(round): a loser is refused by its condition: \(error)")
                }
            }
            if let winner = winners.first {
                #expect(try Scratch.readObject(engine, "vol", key) == bodies[winner], "\(name), round \(round): the winner's bytes")
            }
        }
        try engine.flushVolume(named: "vol")
        let figures = engine.reservationFigures()
        #expect(figures.pagesReserved == 0 && figures.accounted == 0, "\(name): reservations after a flush: \(figures)")
        #expect(engine.spaceAudit().isEmpty, "\(name): \(engine.spaceAudit())")
        try SpaceCountersTests.expectCountersMatchRecount(engine, name)
        engine.shutdown()
    }
}
