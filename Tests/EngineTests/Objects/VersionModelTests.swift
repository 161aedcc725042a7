// Object versions against a reference model: random sequences of PUTs (every write path), PATCHes,
// deletes (delete markers), deletes of versions by id, versioning turned on and suspended, and
// restarts, on a few keys. After every step the engine must agree with the model key by key and
// version by version: the versions listing (order, ids, IsLatest, delete markers, paged by a
// cursor as well as whole), every version's bytes read by id, the current object through the
// cache and past it, the volume's figures (used, noncurrent, objects) against the model's, and
// the counters against a recount, with a clean space audit.
import Catalog
import Foundation
import Synchronization
import Testing

@testable import Engine

@Suite struct VersionModelTests {
    /// One version of a key in the model: its id, and its bytes (nil: a delete marker).
    struct Version: Equatable {
        var id: VersionID
        var bytes: [UInt8]?
    }

    /// The model: each key's versions, oldest first (row order), and the volume's versioning.
    struct Model {
        var keys: [String: [Version]] = [:]
        var versioning = Versioning.off

        func current(_ key: String) -> [UInt8]? { keys[key]?.last?.bytes }

        /// A new newest version: a null one replaces the key's null version wherever it is.
        mutating func add(_ key: String, _ version: Version) {
            if version.id == .null { keys[key, default: []].removeAll { $0.id == .null } }
            keys[key, default: []].append(version)
        }

        var usedBytes: Int64 { keys.values.joined().reduce(0) { $0 + Int64($1.bytes?.count ?? 0) } }
        var noncurrentBytes: Int64 { keys.values.reduce(0) { $0 + $1.dropLast().reduce(0) { $0 + Int64($1.bytes?.count ?? 0) } } }
        var objectCount: Int64 { Int64(keys.values.filter { $0.last?.bytes != nil }.count) }
    }

    static let sizes = [0, 100, 3_000, 20_000, 150_000]

    @Test(arguments: [UInt64(1), 2, 3])
    func versionsAgreeWithTheModel(seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        var random = SplitMix(state: seed)
        var model = Model()
        let keys = ["a", "b/c", "b/d", "e"]
        for step in 0..<220 {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            let what = random.next() % 100
            let context = "seed \(seed) step \(step) key \(key)"
            switch what {
            case 0..<40:  // PUT, on any path
                let (bytes, info) = try Scratch.putOnAnyPath(engine, "vol", key, sizes: Self.sizes, random: &random)
                #expect((info.versionID != .null) == (model.versioning == .enabled), "\(context): a PUT's version id")
                model.add(key, Version(id: info.versionID, bytes: bytes))
            case 40..<52:  // PATCH of the current object
                guard let current = model.current(key) else {
                    #expect(throws: EngineError.self, "\(context): a PATCH of no object") {
                        try engine.openPatch(volume: "vol", key: key, offset: 0, length: 10, io: .buffered, sync: true)
                    }
                    continue
                }
                let offset = Int(random.next() % UInt64(current.count + 5_000))
                let patch = Scratch.splitMixBytes(1 + Int(random.next() % 9_000), seed: random.next())
                let upload = try engine.openPatch(
                    volume: "vol", key: key, offset: Int64(offset), length: Int64(patch.count), io: .buffered, sync: random.next() % 2 == 0)
                try patch.withUnsafeBytes { try upload.append($0) }
                let info = try upload.commit(etag: nil)
                var bytes = current + [UInt8](repeating: 0, count: max(0, offset + patch.count - current.count))
                bytes.replaceSubrange(offset..<offset + patch.count, with: patch)
                if model.versioning == .off {
                    model.keys[key]![model.keys[key]!.count - 1].bytes = bytes
                } else {
                    model.add(key, Version(id: info.versionID, bytes: bytes))
                }
            case 52..<66:  // DELETE without a version (S3's form adds a marker even with no current object)
                let markerIfAbsent = random.next() % 2 == 0
                let hasCurrent = model.current(key) != nil
                if !hasCurrent, model.versioning == .off || !markerIfAbsent {
                    #expect(throws: EngineError.objectNotFound(volume: "vol", key: key), "\(context): a delete of no object") {
                        try engine.deleteObject(volume: "vol", key: key, markerIfAbsent: markerIfAbsent)
                    }
                    continue
                }
                let deleted = try engine.deleteObject(volume: "vol", key: key, markerIfAbsent: markerIfAbsent)
                if model.versioning == .off {
                    model.keys[key] = nil
                } else {
                    let marker = try #require(deleted, "\(context): a delete marker")
                    #expect(marker.deleteMarker, "\(context): a delete marker")
                    model.add(key, Version(id: marker.versionID, bytes: nil))
                }
            case 66..<82:  // DELETE of a version by id (or of one that does not exist)
                let versions = model.keys[key] ?? []
                if versions.isEmpty || random.next() % 8 == 0 {
                    let absent = VersionID(rowID: Int64(1 << 40) + Int64(random.next() % 1000))
                    #expect(throws: EngineError.self, "\(context): a delete of a version that does not exist") {
                        try engine.deleteObject(volume: "vol", key: key, version: absent)
                    }
                    continue
                }
                let doomed = versions[Int(random.next() % UInt64(versions.count))]
                try engine.deleteObject(volume: "vol", key: key, version: doomed.id)
                model.keys[key]!.removeAll { $0.id == doomed.id }
                if model.keys[key]!.isEmpty { model.keys[key] = nil }
            case 82..<90:  // versioning on, suspended, or (refused once on) off
                let wanted = [Versioning.enabled, .suspended, .off][Int(random.next() % 3)]
                if wanted == .off, model.versioning != .off {
                    #expect(throws: EngineError.versioningCannotTurnOff(volume: "vol"), "\(context)") {
                        try engine.setVersioning(named: "vol", .off)
                    }
                    continue
                }
                #expect(try engine.setVersioning(named: "vol", wanted).versioning == wanted, "\(context)")
                model.versioning = wanted
            case 90..<95:
                engine.shutdown()
                engine = try Scratch.engine(dir)
            default:
                try engine.flushVolume(named: "vol")
            }
            try Self.verify(engine, model, context: context, random: &random)
        }
    }

    /// The engine agrees with the model: listings, every version's bytes, the current objects,
    /// the figures, the counters and the space.
    static func verify(_ engine: Engine, _ model: Model, context: String, random: inout SplitMix) throws {
        let listed = try engine.listVersions(volume: "vol", prefix: "", after: nil as (key: String, version: VersionID?)?, limit: 10_000)
        var expected: [(String, VersionID, Bool, Bool)] = []
        for key in model.keys.keys.sorted(by: Engine.keyPrecedes) {
            let versions = model.keys[key]!
            for (i, version) in versions.enumerated().reversed() {
                expected.append((key, version.id, i == versions.count - 1, version.bytes == nil))
            }
        }
        let got = listed.map { ($0.key, $0.versionID, $0.isLatest, $0.deleteMarker) }
        #expect(got.elementsEqual(expected, by: { $0 == $1 }), "\(context): versions listing \(got) vs model \(expected)")
        // Paged by the cursor, a page at a time.
        let limit = 1 + Int(random.next() % 3)
        var paged: [ObjectInfo] = []
        var after: (key: String, version: VersionID?)?
        while true {
            let page = try engine.listVersions(volume: "vol", prefix: "", after: after, limit: limit)
            paged += page
            guard page.count == limit, let last = page.last else { break }
            after = (last.key, last.versionID)
        }
        #expect(paged.map { "\($0.key)@\($0.versionID)" } == listed.map { "\($0.key)@\($0.versionID)" }, "\(context): paged listing")
        for (key, versions) in model.keys {
            for version in versions where model.versioning != .off || version.id != .null {
                if let bytes = version.bytes {
                    let reader = try engine.openObject(volume: "vol", key: key, version: version.id)
                    defer { reader.close() }
                    let read = try Scratch.readAll(count: bytes.count) { at, buffer in try reader.read(at: at, into: buffer) }
                    #expect(read == bytes, "\(context): version \(version.id) of \(key)")
                } else {
                    #expect(throws: EngineError.versionIsDeleteMarker(volume: "vol", key: key, version: version.id.description), "\(context)") {
                        try engine.openObject(volume: "vol", key: key, version: version.id)
                    }
                }
            }
            if let current = model.current(key) {
                let buffered = try #require(try engine.openRead(volume: "vol", key: key, io: .buffered, mayWait: true))
                defer { buffered.close() }
                let read = try Scratch.readAll(count: current.count) { at, buffer in try buffered.read(at: at, into: buffer) }
                #expect(read == current, "\(context): current \(key) through the cache")
                #expect(try Scratch.readObject(engine, "vol", key) == current, "\(context): current \(key) past the cache")
            } else {
                #expect(throws: EngineError.objectNotFound(volume: "vol", key: key), "\(context): \(key) has no current object") {
                    try engine.openObject(volume: "vol", key: key)
                }
            }
        }
        try engine.flushVolume(named: "vol")
        let volume = try engine.volume(named: "vol")
        #expect(volume.usedBytes == model.usedBytes, "\(context): used bytes")
        #expect(volume.noncurrentBytes == model.noncurrentBytes, "\(context): noncurrent bytes")
        #expect(volume.objectCount == model.objectCount, "\(context): objects")
        #expect(volume.versioning == model.versioning, "\(context): versioning")
        #expect(try engine.spaceRecount() == engine.spaceCounters(), "\(context): counters against a recount")
        #expect(engine.spaceAudit().isEmpty, "\(context): space audit")
    }

    /// A volume that keeps versions credits nothing a write replaces against its quota: the
    /// version replaced stays.
    @Test func anOverwriteThatKeepsTheVersionBeforeNeedsQuotaForBoth() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol", capacity: 1 << 20)
        defer { engine.shutdown() }
        let bytes = Scratch.splitMixBytes(600_000)
        try Scratch.upload(engine, "vol", "k", bytes)
        try Scratch.upload(engine, "vol", "k", bytes)  // Versioning off: the old version's quota is credited.
        _ = try engine.setVersioning(named: "vol", .enabled)
        #expect(throws: EngineError.self) { try Scratch.upload(engine, "vol", "k", bytes) }
        #expect(try engine.volume(named: "vol").usedBytes == 600_000)
        #expect(engine.reservationFigures().accounted == 0)
        // With the null version deleted by id, there is room again, and the deleted marker of room stays honest.
        try engine.deleteObject(volume: "vol", key: "k", version: .null)
        try Scratch.upload(engine, "vol", "k", bytes)
        #expect(try engine.volume(named: "vol").usedBytes == 600_000)
        #expect(try engine.spaceRecount() == engine.spaceCounters())
    }

    /// A multipart Complete and a copy in a volume that keeps versions make versions too, and a
    /// copy reads the version it is given.
    @Test func completeAndCopyMakeVersions() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        _ = try engine.setVersioning(named: "vol", .enabled)
        let first = Scratch.splitMixBytes(70_000, seed: 1)
        try Scratch.upload(engine, "vol", "k", first)
        let upload = try engine.createUpload(volume: "vol", key: "k", contentType: nil, metadata: [:], checksumAlgorithm: nil)
        let part = Scratch.splitMixBytes(90_000, seed: 2)
        let writer = try engine.beginPart(volume: "vol", key: "k", uploadID: upload.id, number: 1, length: Int64(part.count))
        try part.withUnsafeBytes { try writer.append($0) }
        let partInfo = try writer.commit(etag: nil)
        let (completed, _) = try engine.completeUpload(
            volume: "vol", key: "k", uploadID: upload.id, parts: [(1, partInfo.etag)], minimumPartSize: 0
        ) { _ in ("combined-1", [:]) }
        #expect(completed.versionID != .null)
        let versions = try engine.listVersions(volume: "vol", prefix: "", after: nil as (key: String, version: VersionID?)?, limit: 10)
        #expect(versions.map(\.isLatest) == [true, false])
        #expect(versions.first?.versionID == completed.versionID)
        // Copy the older version onto another key: its bytes, as a new version there.
        let older = versions[1].versionID
        let (copy, source) = try engine.copyObject(
            from: ("vol", "k"), version: older, if: ReadConditions(), to: ("vol", "copy"), metadata: .copy, digest: CountingDigest())
        #expect(source.versionID == older)
        #expect(copy.versionID != .null)
        #expect(try Scratch.readObject(engine, "vol", "copy") == first)
        #expect(try engine.spaceRecount() == engine.spaceCounters())
        #expect(engine.spaceAudit().isEmpty)
    }

    final class CountingDigest: ObjectDigest {
        var count = 0
        func update(_ bytes: UnsafeRawBufferPointer) { count += bytes.count }
        func finish() -> String { "copied-\(count)" }
        func etag(ofCopyOf source: ObjectInfo) -> String? { nil }
        func reset() { count = 0 }
    }
}

extension VersionModelTests {
    /// A full pool with a volume that keeps versions: overwrites and PATCHes of data on disk grow
    /// the pool (the version before stays), so each reserves its whole size up front. Writes are
    /// refused (507) when the pool cannot take them, never failed after they were accepted; every
    /// version acknowledged reads back; deleting versions by id gives the space back.
    @Test func aFullPoolRefusesVersionsUpFrontAndLosesNone() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: Device.minimumSize, volume: "vol", capacity: 1 << 30)
        defer { engine.shutdown() }
        _ = try engine.setVersioning(named: "vol", .enabled)
        var acknowledged: [(VersionID, [UInt8])] = []
        var refusal: EngineError?
        var step: UInt64 = 0
        while refusal == nil, step < 200 {
            step += 1
            do {
                if step % 3 == 0, let (_, base) = acknowledged.last {
                    // A PATCH of the current version: a new version written whole.
                    let patch = Scratch.splitMixBytes(4096, seed: step)
                    let upload = try engine.openPatch(volume: "vol", key: "k", offset: 100, length: 4096, io: .buffered, sync: false)
                    try patch.withUnsafeBytes { try upload.append($0) }
                    let info = try upload.commit(etag: nil)
                    var bytes = base + [UInt8](repeating: 0, count: max(0, 4196 - base.count))
                    bytes.replaceSubrange(100..<4196, with: patch)
                    acknowledged.append((info.versionID, bytes))
                } else {
                    let bytes = Scratch.splitMixBytes(3 << 20, seed: step)
                    let upload = try engine.openWrite(volume: "vol", key: "k", WriteOptions(io: .buffered, sync: false, length: Int64(bytes.count)))
                    try bytes.withUnsafeBytes { try upload.append($0) }
                    acknowledged.append((try upload.commit(etag: nil).versionID, bytes))
                }
            } catch let error as EngineError {
                refusal = error
            }
        }
        guard case .noSpace(.pool, _, _)? = refusal else {
            Issue.record("no pool refusal after \(acknowledged.count) versions: \(String(describing: refusal))")
            return
        }
        #expect(acknowledged.count > 10)
        try engine.flushVolume(named: "vol")
        #expect(engine.cacheTotals.writebackErrors == 0)
        #expect(engine.reservationFigures().accounted == 0)
        for (version, bytes) in acknowledged {
            let reader = try engine.openObject(volume: "vol", key: "k", version: version)
            defer { reader.close() }
            #expect(try Scratch.readAll(count: bytes.count) { at, buffer in try reader.read(at: at, into: buffer) } == bytes)
        }
        #expect(engine.spaceAudit().isEmpty)
        #expect(try engine.spaceRecount() == engine.spaceCounters())
        // Deleting versions by id frees their space: the refused write fits again.
        for (version, _) in acknowledged.prefix(4) { try engine.deleteObject(volume: "vol", key: "k", version: version) }
        let bytes = Scratch.splitMixBytes(3 << 20, seed: 999)
        let upload = try engine.openWrite(volume: "vol", key: "k", WriteOptions(length: Int64(bytes.count)))
        try bytes.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        #expect(try Scratch.readObject(engine, "vol", "k") == bytes)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}

extension VersionModelTests {
    /// A version deleted by id while a reader has it open: the reader reads it to the end (its
    /// space is held), and the space is free once the reader is closed.
    @Test func aVersionDeletedUnderItsReaderIsReadToTheEnd() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol")
        defer { engine.shutdown() }
        _ = try engine.setVersioning(named: "vol", .enabled)
        let old = Scratch.splitMixBytes(2 << 20, seed: 1)
        try Scratch.upload(engine, "vol", "k", old)
        try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(10_000, seed: 2))
        let version = try #require(
            try engine.listVersions(volume: "vol", prefix: "", after: nil as (key: String, version: VersionID?)?, limit: 10).last?.versionID)
        let reader = try engine.openObject(volume: "vol", key: "k", version: version)
        try engine.deleteObject(volume: "vol", key: "k", version: version)
        #expect(throws: EngineError.self) { try engine.openObject(volume: "vol", key: "k", version: version) }
        // Another write may take free space meanwhile: not the deleted version's, which its reader holds.
        try Scratch.upload(engine, "vol", "other", Scratch.splitMixBytes(3 << 20, seed: 3))
        let read = try Scratch.readAll(count: old.count, chunk: 1 << 20) { at, buffer in try reader.read(at: at, into: buffer) }
        #expect(read == old)
        reader.close()
        #expect(engine.spaceAudit().isEmpty)
        #expect(try engine.volume(named: "vol").noncurrentBytes == 0)
    }
}

extension VersionModelTests {
    /// Several threads write, delete and delete versions of the same keys at once in a volume that
    /// keeps versions: every write acknowledged with an id is there with its bytes unless deleted
    /// by id, each key has one latest row, and the figures equal a recount.
    @Test func concurrentWritersOnSharedKeysKeepEveryVersion() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        _ = try engine.setVersioning(named: "vol", .enabled)
        let written = Mutex<[String: [VersionID: [UInt8]]]>([:])
        let deleted = Mutex<Set<VersionID>>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var random = SplitMix(state: UInt64(thread) + 7)
            for step in 0..<40 {
                let key = ["x", "y"][Int(random.next() % 2)]
                do {
                    switch random.next() % 10 {
                    case 0..<6:
                        let bytes = Scratch.splitMixBytes([10, 5_000, 70_000][Int(random.next() % 3)], seed: random.next())
                        let options = WriteOptions(io: random.next() % 2 == 0 ? .buffered : .direct, sync: false, length: Int64(bytes.count))
                        let upload = try engine.openWrite(volume: "vol", key: key, options)
                        try bytes.withUnsafeBytes { try upload.append($0) }
                        let info = try upload.commit(etag: nil)
                        written.withLock { $0[key, default: [:]][info.versionID] = bytes }
                    case 6..<8:
                        _ = try? engine.deleteObject(volume: "vol", key: key, markerIfAbsent: true)
                    default:
                        let mine = written.withLock { $0[key].map { Array($0.keys) } ?? [] }
                        if let victim = mine.randomElement(using: &random) {
                            do {
                                try engine.deleteObject(volume: "vol", key: key, version: victim)
                                deleted.withLock { _ = $0.insert(victim) }
                            } catch EngineError.versionNotFound {
                                // Another thread deleted it first.
                            }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("thread \(thread) step \(step): \(error)") }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 })")
        let gone = deleted.withLock { $0 }
        for (key, versions) in written.withLock({ $0 }) {
            for (version, bytes) in versions where !gone.contains(version) {
                let reader = try engine.openObject(volume: "vol", key: key, version: version)
                defer { reader.close() }
                #expect(try Scratch.readAll(count: bytes.count) { at, buffer in try reader.read(at: at, into: buffer) } == bytes, "\(key)@\(version)")
            }
        }
        let listed = try engine.listVersions(volume: "vol", prefix: "", after: nil as (key: String, version: VersionID?)?, limit: 10_000)
        for key in ["x", "y"] {
            let rows = listed.filter { $0.key == key }
            #expect(rows.filter(\.isLatest).count == (rows.isEmpty ? 0 : 1), "\(key): one latest row")
            #expect(rows.first?.isLatest ?? true, "\(key): the newest row is the latest")
        }
        #expect(try engine.spaceRecount() == engine.spaceCounters())
        #expect(engine.spaceAudit().isEmpty)
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }
}
