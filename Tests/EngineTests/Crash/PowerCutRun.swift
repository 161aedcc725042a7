// One power-cut run: an engine under the durability model runs a workload (sync and async PUTs
// through both write paths, overwrites, PATCHes, DELETEs, flushes; volumes of 1 and 2 replicas,
// and one that keeps versions; several threads, each owning its keys) while the model takes an image at every durability
// barrier (up to a cap). Then each image is put back in place as the disk would have it after a
// power cut at that instant, the engine reopened on it and checked:
// - every key is in a state the history allows: what was last answered as durable, or what an
//   operation begun by then left — never torn, never older than its last acknowledgement;
// - `check(verifyData:)` passes: catalog integrity, superblocks, extents in bounds and disjoint,
//   free space and allocations tiling every device, every copy's checksums;
// - the space counters equal a recount;
// - every version acknowledged in the volume that keeps versions is there, whole;
// - reopening again gives the same state.
import Catalog
import EngineTestSupport
import Foundation
import Logging
import Synchronization

@testable import Engine

struct PowerCutReport {
    var seed: UInt64
    var barriers = 0
    var images = 0
    var statesChecked = 0
    var undurableWrites = 0
    /// Snapshots found at crash points, each checked key by key.
    var snapshotsChecked = 0
    /// Clones found at crash points, each checked key by key against its snapshot.
    var clonesChecked = 0
    var clonesMade = 0
    var copiesMade = 0
    var violations: [String] = []

    var summary: String {
        "seed \(seed): \(barriers) barriers, \(images) crash points checked (\(statesChecked) key states, \(snapshotsChecked) snapshots, \(clonesChecked) clones (of \(clonesMade) made), \(copiesMade) copies made, \(undurableWrites) writes not yet durable at them, each dropped, kept or torn), \(violations.count) violations"
    }
}

enum PowerCutRun {
    struct Settings: Sendable {
        var seed: UInt64
        var threads = 3
        var opsPerThread = 14
        var keysPerThread = 3
        var maxImages = 60
        var planted: PlantedFaults = []
        var stopAtFirstViolation = false
    }

    /// `kept` keeps versions: every write there is a version of its own, which must survive.
    static let volumes: [(name: String, replicas: Int64)] = [("one", 1), ("two", 2), ("kept", 2)]
    static let versioned = "kept"
    /// Snapshots of `two` are taken and deleted as the workload runs: each must hold, after any
    /// cut, the volume as it was when it was taken.
    static let snapshotted = "two"
    static let logger = Logger(label: "power-cut", factory: { _ in SwiftLogNoOpLogHandler() })

    static func run(_ settings: Settings) throws -> PowerCutReport {
        let root = try Scratch.directory()
        let images = try Scratch.directory()
        defer {
            Scratch.remove(root)
            Scratch.remove(images)
        }
        let history = PowerCutHistory()
        let armed = Atomic<Bool>(false)
        let taken = Atomic<Int>(0)
        let imagesPath = images.path
        let maxImages = settings.maxImages
        let model = DurabilityModel.start(root: root.path, seed: settings.seed, sector: settings.seed % 2 == 0 ? 4096 : 512) { number in
            guard armed.load(ordering: .acquiring) else { return nil }
            history.barrier(number)
            guard taken.load(ordering: .relaxed) < maxImages else { return nil }
            taken.add(1, ordering: .relaxed)
            return imagesPath + "/\(number)"
        }
        var report = PowerCutReport(seed: settings.seed)
        do {
            // Three devices, the catalog on two: a device with data and no catalog copy keeps the
            // catalog's syncs from flushing every data write by the way.
            let engine = try Engine.open(
                dataDirectory: root.path + "/data", logger: logger, cacheBytes: 64 << 20, planted: settings.planted, metadataCopies: 2)
            for name in ["a.img", "b.img", "c.img"] {
                _ = try engine.addDevice(path: try Scratch.file(root, name, size: Device.minimumSize), label: nil, force: false)
            }
            for volume in volumes {
                _ = try engine.createVolume(name: volume.name, capacityBytes: 24 << 20, replicas: volume.replicas, provisioning: .thin)
            }
            _ = try engine.setVersioning(named: versioned, .enabled)
            armed.store(true, ordering: .releasing)
            let done = DispatchGroup()
            for index in 0..<settings.threads {
                done.enter()
                Thread {
                    workload(engine, history, settings, thread: index)
                    done.leave()
                }.start()
            }
            done.wait()
            armed.store(false, ordering: .releasing)
            engine.shutdown()
        } catch {
            model.stop()
            throw error
        }
        let figures = model.stop()
        report.clonesMade = history.snapshots.filter { $0.clone?.end != nil }.count
        report.copiesMade = history.copiesMade
        report.barriers = figures.barriers
        report.undurableWrites = figures.undurableWrites

        let numbers = try FileManager.default.contentsOfDirectory(atPath: images.path).compactMap(Int.init).sorted()
        for number in numbers {
            let image = images.path + "/\(number)"
            defer { try? FileManager.default.removeItem(atPath: image) }
            guard let cut = history.clock(atBarrier: number) else { continue }
            try restore(image, into: root)
            report.images += 1
            report.violations += verify(root, history, cut: cut, report: &report).map { "barrier \(number): \($0)" }
            if settings.stopAtFirstViolation, !report.violations.isEmpty { break }
        }
        return report
    }

    // MARK: The workload

    /// Content of version `version`: a header naming it, then bytes from its seed.
    static func body(_ version: UInt64, size: Int) -> [UInt8] {
        var bytes = Scratch.splitMixBytes(size, seed: version)
        withUnsafeBytes(of: version.littleEndian) { header in
            for i in 0..<min(8, size) { bytes[i] = header[i] }
        }
        return bytes
    }

    private static func workload(_ engine: Engine, _ history: PowerCutHistory, _ settings: Settings, thread: Int) {
        var random = SplitMix(state: settings.seed &* 31 &+ UInt64(thread) &+ 1)
        var current: [String: [UInt8]?] = [:]  // what each owned key holds, when known
        for i in 0..<settings.opsPerThread {
            let j = Int.random(in: 0..<settings.keysPerThread, using: &random)
            let key = "t\(thread)-k\(j)"
            let volume = volumes[j % volumes.count].name
            let id = "\(volume)/\(key)"
            let version = UInt64(thread + 1) << 32 | UInt64(i + 1)
            let kind = Int.random(in: 0..<100, using: &random)
            // 6 % large (several extents), 47 % small enough to be inline in the catalog, the rest small extents.
            let size =
                kind < 6
                ? (4 << 20) + Int.random(in: 1...(512 << 10), using: &random)
                : kind < 53 ? Int.random(in: 1...Int(Engine.defaultInlineMaxBytes), using: &random) : Int.random(in: 1...(96 << 10), using: &random)
            let roll = Int.random(in: 0..<100, using: &random)
            let known = current[key] ?? nil
            do {
                switch roll {
                case 0..<62 where volume == versioned:
                    // Through the front door (a volume that keeps versions writes each one durable).
                    let data = body(version, size: size)
                    let io: ObjectIO = roll < 25 ? .direct : .buffered
                    try operation(history, id, .put, result: data, sync: true) {
                        let upload = try engine.openWrite(volume: volume, key: key, WriteOptions(io: io, sync: roll < 45, length: Int64(data.count)))
                        try data.withUnsafeBytes { try upload.append($0) }
                        let info = try upload.commit(etag: nil)
                        history.recordVersion(id, version: info.versionID.description, bytes: data, end: history.tick())
                    }
                    current[key] = data
                case 62..<75 where volume == versioned:
                    guard let base = known, !base.isEmpty, current[key] != nil else { continue }
                    let offset = Int.random(in: 0..<base.count, using: &random)
                    let patch = body(version, size: Int.random(in: 1...8192, using: &random))
                    var result = base + [UInt8](repeating: 0, count: max(0, offset + patch.count - base.count))
                    result.replaceSubrange(offset..<offset + patch.count, with: patch)
                    try operation(history, id, .patch, result: result, sync: true) {
                        let upload = try engine.openPatch(
                            volume: volume, key: key, offset: Int64(offset), length: Int64(patch.count), io: .buffered, sync: false)
                        try patch.withUnsafeBytes { try upload.append($0) }
                        let info = try upload.commit(etag: nil)
                        history.recordVersion(id, version: info.versionID.description, bytes: result, end: history.tick())
                    }
                    current[key] = result
                case 80..<95 where volume == snapshotted:
                    let mine = history.snapshots.filter { $0.name.hasPrefix("t\(thread)-") && $0.end != nil && $0.deleteStart == nil }
                    if let doomed = mine.first(where: { $0.clone == nil }), Bool.random(using: &random) {
                        let start = history.tick()
                        do {
                            try engine.deleteSnapshot(volume: volume, snapshot: doomed.name)
                            history.recordSnapshotDeletion(doomed.name, start: start, end: history.tick())
                        } catch {
                            history.recordSnapshotDeletion(doomed.name, start: start, end: nil)
                            throw error
                        }
                    } else {
                        let name = "t\(thread)-s\(i)"
                        let start = history.tick()
                        do {
                            try engine.createSnapshot(volume: volume, snapshot: name)
                            history.recordSnapshot(.init(name: name, volume: volume, start: start, end: history.tick()))
                        } catch {
                            history.recordSnapshot(.init(name: name, volume: volume, start: start, end: nil))
                            throw error
                        }
                        if Bool.random(using: &random) {
                            // A clone of it (which the snapshot then keeps).
                            let clone = "t\(thread)-c\(i)"
                            let start = history.tick()
                            history.recordClone(clone, of: name, start: start, end: nil)
                            try engine.createClone(name: clone, origin: volume, snapshot: name)
                            history.recordClone(clone, of: name, start: start, end: history.tick())
                        }
                    }
                case 0..<25:
                    let data = body(version, size: size)
                    try operation(history, id, .put, result: data, sync: true) { try Scratch.upload(engine, volume, key, data) }
                    current[key] = data
                case 25..<45, 45..<62:
                    let data = body(version, size: size)
                    let sync = roll < 45
                    try operation(history, id, .put, result: data, sync: sync) {
                        try bufferedWrite(engine, volume, key, data, mode: .replace, sync: sync)
                    }
                    current[key] = data
                case 62..<75:
                    guard let base = known, !base.isEmpty, current[key] != nil else { continue }
                    let offset = Int.random(in: 0..<base.count, using: &random)
                    // A third may run past the end: the object grows (an inline one may leave the catalog).
                    let grows = Int.random(in: 0..<3, using: &random) == 0
                    let length = Int.random(in: 1...(grows ? 24 << 10 : 8192), using: &random)
                    let patch = body(version, size: grows ? length : min(base.count - offset, length))
                    var result = base
                    result.replaceSubrange(offset..<min(base.count, offset + patch.count), with: patch)
                    let sync = Bool.random(using: &random)
                    try operation(history, id, .patch, result: result, sync: sync) {
                        try bufferedWrite(engine, volume, key, patch, mode: .patch(offset: Int64(offset)), sync: sync)
                    }
                    current[key] = result
                case 75..<88:
                    try operation(history, id, .delete, result: nil, sync: true) {
                        do {
                            try engine.deleteObject(volume: volume, key: key)
                        } catch EngineError.objectNotFound {
                            // Nothing there: the state is absent either way.
                        }
                    }
                    current[key] = .some(nil)
                case 88..<95:
                    // A server-side copy (it shares the source's extents), onto the key itself or a
                    // key of its own that only copies write: durable when answered, with the bytes
                    // the source had; later writes and deletes of the source leave it as it is.
                    guard let source = known else { continue }
                    let target = Bool.random(using: &random) ? key : "\(key)-copy"
                    current[target] = nil  // unknown until the copy is answered
                    try operation(history, "\(volume)/\(target)", .put, result: source, sync: true) {
                        _ = try engine.copyObject(
                            from: (volume, key), if: ReadConditions(), to: (volume, target), metadata: .copy, digest: CopyDigest())
                    }
                    history.recordCopy()
                    current[target] = source
                default:
                    let start = history.tick()
                    if Bool.random(using: &random) {
                        try engine.flushVolume(named: volume)
                    } else {
                        // Every dirty key of the volume as one batch on this thread (flushVolume's
                        // helpers take a share of the keys each; here they are few).
                        let keys = engine.pageCache.keysToFlush(volumeID: try engine.volumeRecord(named: volume).id!)
                        if let (_, error) = engine.flushBatch(ArraySlice(keys)).first { throw error }
                    }
                    history.recordFlush(volume: volume, start: start, end: history.tick())
                }
            } catch {
                current[key] = nil  // unknown: no PATCH on it until a PUT or DELETE says what it holds
            }
        }
    }

    /// A copy's ETag: the power-cut test reads bytes, not ETags.
    final class CopyDigest: ObjectDigest {
        func update(_ bytes: UnsafeRawBufferPointer) {}
        func finish() -> String { "copy" }
        func reset() {}
        func etag(ofCopyOf source: ObjectInfo) -> String? { nil }
    }

    /// A buffered PUT or PATCH; in a volume that keeps rows (snapshots), where the cache admits
    /// no write, through the front door (the direct writer, or a PATCH written whole).
    private static func bufferedWrite(
        _ engine: Engine, _ volume: String, _ key: String, _ data: [UInt8], mode: BufferedUpload.Mode, sync: Bool
    ) throws {
        if let upload = try engine.beginBufferedUpload(volume: volume, key: key, contentType: nil, length: Int64(data.count), mode: mode) {
            try data.withUnsafeBytes { try upload.append($0) }
            _ = try upload.finish(sync: sync)
            return
        }
        let upload =
            switch mode {
            case .replace: try engine.openWrite(volume: volume, key: key, WriteOptions(io: .buffered, sync: sync, length: Int64(data.count)))
            case .patch(let offset):
                try engine.openPatch(volume: volume, key: key, offset: offset, length: Int64(data.count), io: .buffered, sync: sync)
            }
        try data.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
    }

    private static func operation(
        _ history: PowerCutHistory, _ id: String, _ kind: PowerCutOp.Kind, result: [UInt8]?, sync: Bool, _ body: () throws -> Void
    ) throws {
        let start = history.tick()
        do {
            try body()
        } catch {
            history.record(id, PowerCutOp(kind: kind, result: result, start: start, end: nil, sync: sync))
            throw error
        }
        history.record(id, PowerCutOp(kind: kind, result: result, start: start, end: history.tick(), sync: sync))
    }

    // MARK: Checking an image

    /// Replaces everything under `root` with the image's files.
    static func restore(_ image: String, into root: URL) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: root.path) {
            try FileManager.default.removeItem(atPath: root.path + "/" + name)
        }
        guard let walker = FileManager.default.enumerator(atPath: image) else { return }
        while let relative = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: image + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            DurabilityModel.sparseCopy(from: image + "/" + relative, to: root.path + "/" + relative)
        }
    }

    enum Found: Equatable {
        case absent
        case content([UInt8])
        case unreadable(String)
    }

    static func read(_ engine: Engine, _ id: String, snapshot: String? = nil) -> Found {
        let parts = id.split(separator: "/", maxSplits: 1).map(String.init)
        do {
            guard let snapshot else { return .content(try Scratch.readObject(engine, parts[0], parts[1])) }
            let reader = try engine.openObject(volume: parts[0], key: parts[1], snapshot: snapshot)
            defer { reader.close() }
            return .content(try Scratch.readAll(count: Int(reader.info.size), chunk: 1 << 20) { at, buffer in try reader.read(at: at, into: buffer) })
        } catch EngineError.objectNotFound {
            return .absent
        } catch {
            return .unreadable("\(error)")
        }
    }

    /// What `bytes` resemble: the version named in its first 8 bytes, and where it first differs
    /// from each allowed state of its size.
    static func explain(_ bytes: [UInt8], _ allowed: [[UInt8]?]) -> String {
        let header = bytes.count >= 8 ? bytes[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : 0
        var parts = ["starts as version \(header >> 32)/\(header & 0xFFFF_FFFF)"]
        for case let candidate? in allowed {
            let common = min(candidate.count, bytes.count)
            let first = (0..<common).first { candidate[$0] != bytes[$0] }
            let named = candidate.count >= 8 ? candidate[0..<8].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } : 0
            parts.append(
                "vs \(candidate.count) B version \(named >> 32)/\(named & 0xFFFF_FFFF): "
                    + (first.map { "differs from byte \($0)" } ?? "same for \(common) bytes"))
        }
        return parts.joined(separator: "; ")
    }

    /// Each current copy of the catalog, on its own, must show an allowed version of every key:
    /// a commit is answered only once every copy holds it durably, so any copy may be the one a
    /// start is left with. Read before the engine opens (which reconciles the copies): each copy's
    /// database and whole WAL are copied into files and read with SQLite; a version is known by
    /// its size (the workload's versions of a key differ in size but by chance).
    static func copyProblems(_ root: URL, _ history: PowerCutHistory, cut: Int) -> [String] {
        let images = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasSuffix(".img") }.sorted()
        let found = images.compactMap { MetadataDiscovery.probe(root.path + "/" + $0) }.filter { $0.header != nil }
        guard let newest = found.compactMap(\.header?.generation).max() else { return ["no catalog copy on the devices"] }
        var problems: [String] = []
        for copy in found where copy.header?.generation == newest {
            guard let area = copy.superblock.metadataArea else { continue }
            let directory = FileManager.default.temporaryDirectory.appending(path: "copy-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let regions = MetadataAreaFormat.regions(areaBytes: Int64(area.count))
                let handle = try FileHandle(forReadingFrom: URL(filePath: copy.path))
                defer { try? handle.close() }
                func bytes(_ offset: Int64, _ count: Int) throws -> Data {
                    try handle.seek(toOffset: UInt64(area.lowerBound + offset))
                    return try handle.read(upToCount: count) ?? Data()
                }
                let header = try bytes(regions.database.lowerBound, 100).withUnsafeBytes { SQLiteHeader($0) }
                try bytes(regions.database.lowerBound, Int(header?.bytes ?? 0)).write(to: directory.appending(path: "catalog.sqlite"))
                let walLength = WALChain.committedLength(capacity: Int64(regions.wal.count)) { buffer, offset in
                    guard let data = try? bytes(regions.wal.lowerBound + offset, buffer.count), data.count == buffer.count else { return false }
                    data.copyBytes(to: buffer)
                    return true
                }
                try bytes(regions.wal.lowerBound, Int(walLength)).write(to: directory.appending(path: "catalog.sqlite-wal"))
                let catalog = try Catalog(path: directory.appending(path: "catalog.sqlite").path)
                defer { try? catalog.close() }
                let volumes = Dictionary(uniqueKeysWithValues: try catalog.volumeRecords().map { ($0.name, $0.id!) })
                for id in history.keys {
                    let parts = id.split(separator: "/", maxSplits: 1).map(String.init)
                    let allowed = history.allowed(id, volume: parts[0], cut: cut)
                    let size = try volumes[parts[0]].flatMap { try catalog.object(volumeID: $0, key: parts[1]) }?.record.size
                    let fits = allowed.contains { candidate in candidate.map { Int64($0.count) } == size }
                    if !fits {
                        problems.append(
                            "the catalog's copy on \(copy.path) holds \(id) at \(size.map { "\($0) bytes" } ?? "absent"); history: \(history.describe(id, volume: parts[0], cut: cut))"
                        )
                    }
                }
            } catch {
                problems.append("the catalog's copy on \(copy.path) does not open: \(error)")
            }
        }
        return problems
    }

    /// Every snapshot taken before the cut and not being deleted is there, one whose deletion was
    /// answered is gone, and each one there holds every key as it was when it was taken.
    private static func snapshotProblems(_ engine: Engine, _ history: PowerCutHistory, cut: Int, report: inout PowerCutReport) throws -> [String] {
        var problems: [String] = []
        let present = Set(try engine.snapshots(volume: snapshotted).map(\.name))
        for snapshot in history.snapshots where snapshot.start < cut {
            let taken = snapshot.end.map { $0 < cut } ?? false
            let deleting = snapshot.deleteStart.map { $0 < cut } ?? false
            let deleted = snapshot.deleteEnd.map { $0 < cut } ?? false
            if taken, !deleting, !present.contains(snapshot.name) { problems.append("snapshot \(snapshot.name), taken before the cut, is lost") }
            if deleted, present.contains(snapshot.name) { problems.append("snapshot \(snapshot.name), deleted before the cut, is back") }
            guard present.contains(snapshot.name) else { continue }
            report.snapshotsChecked += 1
            // A clone made of it (never written to) holds what it holds, once its making was answered.
            var clone: String?
            if let made = snapshot.clone, made.start < cut {
                let exists = (try? engine.volume(named: made.name)) != nil
                if made.end.map({ $0 < cut }) ?? false, !exists { problems.append("clone \(made.name), made before the cut, is lost") }
                if exists {
                    clone = made.name
                    report.clonesChecked += 1
                }
            }
            for id in history.keys where id.hasPrefix(snapshotted + "/") {
                report.statesChecked += 1
                let allowed = history.allowed(id, inSnapshotTakenFrom: snapshot.start, to: min(snapshot.end ?? cut, cut))
                let found = read(engine, id, snapshot: snapshot.name)
                let matches =
                    switch found {
                    case .absent: allowed.contains { $0 == nil }
                    case .content(let bytes): allowed.contains { $0 == bytes }
                    case .unreadable: false
                    }
                if !matches { problems.append("\(id) in snapshot \(snapshot.name) [\(snapshot.start)-\(snapshot.end ?? -1)] is \(found)") }
                if let clone {
                    let key = String(id.dropFirst(snapshotted.count + 1))
                    let inClone = read(engine, "\(clone)/\(key)")
                    if inClone != found { problems.append("\(key) in clone \(clone) is \(inClone), not \(found) as in \(snapshot.name)") }
                }
            }
        }
        return problems
    }

    private static func verify(_ root: URL, _ history: PowerCutHistory, cut: Int, report: inout PowerCutReport) -> [String] {
        var violations: [String] = copyProblems(root, history, cut: cut)
        // Two owners of one range (a planted bug's image): found in the catalog alone, since the
        // engine traps on such a pool (its frees would double-free) rather than serve it.
        let overlaps = (try? OpenedCatalog.withCatalog(dataDirectory: root.path + "/data") { try $0.overlappingCopies() }) ?? []
        if !overlaps.isEmpty { return violations + overlaps.map { "catalog: \($0)" } }
        var first: [String: Found] = [:]
        do {
            let engine = try Engine.open(dataDirectory: root.path + "/data", logger: logger, cacheBytes: 64 << 20, metadataCopies: 2)
            for id in history.keys {
                let volume = String(id.split(separator: "/")[0])
                let found = read(engine, id)
                first[id] = found
                report.statesChecked += 1
                let allowed = history.allowed(id, volume: volume, cut: cut)
                let matches: Bool
                switch found {
                case .absent: matches = allowed.contains { $0 == nil }
                case .content(let bytes): matches = allowed.contains { $0 == bytes }
                case .unreadable: matches = false
                }
                if !matches {
                    let what: String
                    switch found {
                    case .absent: what = "absent"
                    case .content(let bytes): what = "\(bytes.count) bytes of no version that may be there (\(Self.explain(bytes, allowed)))"
                    case .unreadable(let error): what = "unreadable (\(error))"
                    }
                    violations.append("\(id) is \(what); history: \(history.describe(id, volume: volume, cut: cut))")
                }
            }
            // Every version acknowledged in the volume that keeps them is there, whole.
            for id in history.keys where id.hasPrefix(versioned + "/") {
                let key = String(id.dropFirst(versioned.count + 1))
                for (version, bytes) in history.versions(id, before: cut) {
                    report.statesChecked += 1
                    do {
                        let reader = try engine.openObject(volume: versioned, key: key, version: VersionID(parsing: version)!)
                        defer { reader.close() }
                        let read = try Scratch.readAll(count: bytes.count + 1) { at, buffer in try reader.read(at: at, into: buffer) }
                        if read.prefix(bytes.count) != bytes[...] || reader.info.size != Int64(bytes.count) {
                            violations.append("\(id) version \(version): \(reader.info.size) bytes, not the \(bytes.count) acknowledged")
                        }
                    } catch {
                        violations.append("\(id) version \(version), acknowledged before the cut, is lost: \(error)")
                    }
                }
            }
            violations += try snapshotProblems(engine, history, cut: cut, report: &report)
            violations += engine.check(verifyData: true).problems.map { "check: \($0)" }
            let counted = engine.spaceCounters()
            if let recount = try? engine.spaceRecount(), recount != counted {
                violations.append("space counters \(counted) differ from a recount \(recount)")
            }
            engine.shutdown()
        } catch {
            return violations + ["the engine did not open: \(error)"]
        }
        do {
            let engine = try Engine.open(dataDirectory: root.path + "/data", logger: logger, cacheBytes: 64 << 20, metadataCopies: 2)
            defer { engine.shutdown() }
            for id in history.keys where read(engine, id) != first[id] { violations.append("\(id) differs after a second reopen") }
        } catch {
            violations.append("the engine did not open a second time: \(error)")
        }
        return violations
    }
}
