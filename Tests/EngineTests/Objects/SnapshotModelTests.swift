// Volume snapshots and clones against a reference model: random sequences of PUTs (every write
// path), PATCHes, deletes, snapshots taken and deleted, clones made from them, written and
// deleted, flushes and restarts, on a few keys. After every
// step each snapshot must hold exactly the volume as it was when it was taken (its listing, whole
// and paged, and every object's bytes), the live volume must be as written, and the figures must
// be the model's: bytes used (live rows and rows kept for snapshots), snapshot bytes (rows only
// snapshots hold), objects; the counters equal a recount and the space audit is clean.
import Catalog
import Foundation
import Testing

@testable import Engine

@Suite struct SnapshotModelTests {
    /// A row of the model: a version of a key, born in an epoch, dead (replaced or deleted) in one.
    struct Row {
        var key: String
        var bytes: [UInt8]
        var born: Int64
        var died: Int64?
    }

    struct Model {
        var rows: [Row] = []
        var live: [String: Int] = [:]
        var epoch: Int64 = 0
        /// Snapshot name → (epoch, the volume as it was).
        var snapshots: [String: (epoch: Int64, view: [String: [UInt8]])] = [:]
        /// Clones of the volume's snapshots: what each holds, and which of its keys still borrow
        /// their bytes from the snapshot.
        var clones: [String: Clone] = [:]

        struct Clone {
            var origin: String
            var state: [String: [UInt8]]
            var borrowed: Set<String>
            var sharedBytes: Int64 { borrowed.reduce(0) { $0 + Int64(state[$1]!.count) } }
            var usedBytes: Int64 { state.filter { !borrowed.contains($0.key) }.values.reduce(0) { $0 + Int64($1.count) } }
        }

        func current(_ key: String) -> [UInt8]? { live[key].map { rows[$0].bytes } }
        var state: [String: [UInt8]] { live.mapValues { rows[$0].bytes } }

        mutating func kill(_ key: String) {
            guard let i = live[key] else { return }
            rows[i].died = epoch
            live[key] = nil
        }

        mutating func write(_ key: String, _ bytes: [UInt8]) {
            kill(key)
            rows.append(Row(key: key, bytes: bytes, born: epoch, died: nil))
            live[key] = rows.count - 1
        }

        mutating func snapshot(_ name: String) {
            snapshots[name] = (epoch, state)
            epoch += 1
        }

        /// Dead, and seen by a snapshot left.
        func kept(_ row: Row) -> Bool {
            guard let died = row.died else { return false }
            return snapshots.values.contains { row.born <= $0.epoch && $0.epoch < died }
        }

        var snapshotBytes: Int64 { rows.filter(kept).reduce(0) { $0 + Int64($1.bytes.count) } }
        var usedBytes: Int64 { snapshotBytes + live.values.reduce(0) { $0 + Int64(rows[$1].bytes.count) } }
    }

    static let sizes = [0, 100, 3_000, 20_000, 150_000]

    @Test(arguments: [UInt64(1), 2, 3])
    func snapshotsAgreeWithTheModel(seed: UInt64) throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        var (engine, _) = try Scratch.engine(dir, devices: 2, deviceSize: 256 << 20, volume: "vol", capacity: 192 << 20)
        defer { engine.shutdown() }
        var random = SplitMix(state: seed)
        var model = Model()
        let keys = ["a", "b/c", "b/d", "e", "f"]
        var taken = 0
        var cloned = 0
        for step in 0..<200 {
            let key = keys[Int(random.next() % UInt64(keys.count))]
            // A third of the writes go to a clone, when there is one.
            let clone = random.next() % 3 == 0 ? model.clones.keys.sorted().randomElement(using: &random) : nil
            let volume = clone ?? "vol"
            let context = "seed \(seed) step \(step) key \(key) volume \(volume)"
            func current() -> [UInt8]? { clone.map { model.clones[$0]!.state[key] } ?? model.current(key) }
            func write(_ bytes: [UInt8]?) {
                guard let clone else { return bytes.map { model.write(key, $0) } ?? model.kill(key) }
                model.clones[clone]!.state[key] = bytes
                model.clones[clone]!.borrowed.remove(key)
            }
            switch random.next() % 100 {
            case 0..<40:  // PUT, on any path
                write(try Scratch.putOnAnyPath(engine, volume, key, sizes: Self.sizes, random: &random).bytes)
            case 40..<52:  // PATCH
                guard let current = current() else { continue }
                let offset = Int(random.next() % UInt64(current.count + 5_000))
                let patch = Scratch.splitMixBytes(1 + Int(random.next() % 9_000), seed: random.next())
                let upload = try engine.openPatch(
                    volume: volume, key: key, offset: Int64(offset), length: Int64(patch.count), io: .buffered, sync: random.next() % 2 == 0)
                try patch.withUnsafeBytes { try upload.append($0) }
                _ = try upload.commit(etag: nil)
                var bytes = current + [UInt8](repeating: 0, count: max(0, offset + patch.count - current.count))
                bytes.replaceSubrange(offset..<offset + patch.count, with: patch)
                write(bytes)
            case 52..<62:  // DELETE
                guard current() != nil else {
                    #expect(throws: EngineError.objectNotFound(volume: volume, key: key), "\(context)") {
                        try engine.deleteObject(volume: volume, key: key)
                    }
                    continue
                }
                try engine.deleteObject(volume: volume, key: key)
                write(nil)
            case 62..<66:  // a clone made of a snapshot, or one deleted
                if let doomed = model.clones.keys.sorted().randomElement(using: &random), random.next() % 3 == 0 {
                    try engine.deleteVolume(named: doomed, force: true)
                    model.clones[doomed] = nil
                } else if let origin = model.snapshots.keys.sorted().randomElement(using: &random) {
                    let name = "clone-\(cloned)"
                    cloned += 1
                    let info = try engine.createClone(name: name, origin: "vol", snapshot: origin)
                    #expect(info.cloneOf == "vol@\(origin)", "\(context)")
                    let view = model.snapshots[origin]!.view
                    model.clones[name] = Model.Clone(origin: origin, state: view, borrowed: Set(view.keys))
                }
            case 64..<76:  // a snapshot taken
                let name = "s\(taken)"
                taken += 1
                let info = try engine.createSnapshot(volume: "vol", snapshot: name)
                #expect(info.name == name)
                model.snapshot(name)
                #expect(throws: EngineError.snapshotExists(volume: "vol", name: name), "\(context)") {
                    try engine.createSnapshot(volume: "vol", snapshot: name)
                }
            case 76..<86:  // a snapshot deleted
                guard let name = model.snapshots.keys.sorted().randomElement(using: &random) else {
                    #expect(throws: EngineError.snapshotNotFound(volume: "vol", name: "none"), "\(context)") {
                        try engine.deleteSnapshot(volume: "vol", snapshot: "none")
                    }
                    continue
                }
                let clones = model.clones.filter { $0.value.origin == name }.keys.sorted()
                guard clones.isEmpty else {
                    #expect(throws: EngineError.snapshotHasClones(volume: "vol", name: name, clones: clones), "\(context)") {
                        try engine.deleteSnapshot(volume: "vol", snapshot: name)
                    }
                    continue
                }
                try engine.deleteSnapshot(volume: "vol", snapshot: name)
                model.snapshots[name] = nil
            case 86..<93:
                engine.shutdown()
                engine = try Scratch.engine(dir)
            default:
                try engine.flushVolume(named: "vol")
            }
            try Self.verify(engine, model, context: context, random: &random)
        }
        #expect(cloned > 1 && taken > 5, "the run made \(cloned) clones and \(taken) snapshots")
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    /// The engine agrees with the model: each snapshot's listing and bytes, the live volume, the
    /// figures, the counters and the space.
    static func verify(
        _ engine: Engine, _ model: Model, context: String, random: inout SplitMix, keys: [String] = ["a", "b/c", "b/d", "e", "f"]
    ) throws {
        let names = model.snapshots.sorted { $0.value.epoch < $1.value.epoch }.map(\.key)
        #expect(try engine.snapshots(volume: "vol").map(\.name) == names, "\(context): snapshots")
        for (name, snapshot) in model.snapshots {
            let keys = snapshot.view.keys.sorted(by: Engine.keyPrecedes)
            let listed = try engine.listObjects(volume: "vol", snapshot: name, prefix: "", startAfter: nil, limit: 1000)
            #expect(listed.map(\.key) == keys, "\(context): \(name)'s listing")
            #expect(listed.map(\.size) == keys.map { Int64(snapshot.view[$0]!.count) }, "\(context): \(name)'s sizes")
            let limit = 1 + Int(random.next() % 3)
            var paged: [String] = []
            while true {
                let page = try engine.listObjects(volume: "vol", snapshot: name, prefix: "", startAfter: paged.last, limit: limit)
                paged += page.map(\.key)
                if page.count < limit { break }
            }
            #expect(paged == keys, "\(context): \(name)'s listing by pages of \(limit)")
            #expect(
                try engine.listObjects(volume: "vol", snapshot: name, prefix: "b/", startAfter: nil, limit: 1000).map(\.key)
                    == keys.filter { $0.hasPrefix("b/") }, "\(context): \(name)'s listing of a prefix")
            for key in keys {
                if let bytes = snapshot.view[key] {
                    let reader = try engine.openObject(volume: "vol", key: key, snapshot: name)
                    defer { reader.close() }
                    let read = try Scratch.readAll(count: bytes.count) { at, buffer in try reader.read(at: at, into: buffer) }
                    #expect(read == bytes, "\(context): \(key) in \(name)")
                } else {
                    #expect(throws: EngineError.objectNotFound(volume: "vol@\(name)", key: key), "\(context): \(key) not in \(name)") {
                        try engine.openObject(volume: "vol", key: key, snapshot: name)
                    }
                }
            }
        }
        for key in keys {
            if let bytes = model.current(key) {
                #expect(try Scratch.readObject(engine, "vol", key) == bytes, "\(context): live \(key)")
            } else {
                #expect(throws: EngineError.objectNotFound(volume: "vol", key: key), "\(context): live \(key) deleted") {
                    try engine.openObject(volume: "vol", key: key)
                }
            }
        }
        #expect(
            try engine.listObjects(volume: "vol", prefix: "", startAfter: nil, limit: 1000).map(\.key)
                == model.live.keys.sorted(by: Engine.keyPrecedes), "\(context): live listing")
        try engine.flushVolume(named: "vol")
        let volume = try engine.volume(named: "vol")
        #expect(volume.usedBytes == model.usedBytes, "\(context): used bytes")
        #expect(volume.snapshotBytes == model.snapshotBytes, "\(context): snapshot bytes")
        #expect(volume.objectCount == Int64(model.live.count), "\(context): objects")
        for (name, clone) in model.clones {
            #expect(
                try engine.listObjects(volume: name, prefix: "", startAfter: nil, limit: 1000).map(\.key)
                    == clone.state.keys.sorted(by: Engine.keyPrecedes), "\(context): \(name)'s listing")
            for key in keys {
                if let bytes = clone.state[key] {
                    #expect(try Scratch.readObject(engine, name, key) == bytes, "\(context): \(name)/\(key)")
                } else {
                    #expect(throws: EngineError.objectNotFound(volume: name, key: key), "\(context): \(name)/\(key) deleted") {
                        try engine.openObject(volume: name, key: key)
                    }
                }
            }
            let figures = try engine.volume(named: name)
            #expect(figures.sharedBytes == clone.sharedBytes, "\(context): \(name)'s shared bytes")
            #expect(figures.usedBytes == clone.usedBytes, "\(context): \(name)'s used bytes")
            #expect(figures.objectCount == Int64(clone.state.count), "\(context): \(name)'s objects")
        }
        #expect(try engine.spaceRecount() == engine.spaceCounters(), "\(context): counters against a recount")
        #expect(engine.spaceAudit().isEmpty, "\(context): space audit")
    }
}

extension SnapshotModelTests {
    /// A full pool with snapshots: overwrites of data a snapshot holds grow the pool, so they
    /// reserve the whole new version up front and are refused (507) when it does not fit, never
    /// failed after they were accepted. Every write acknowledged reads back, live and in every
    /// snapshot; deleting the snapshots gives the space back and the refused write fits.
    @Test func aFullPoolRefusesOverwritesOfSnapshotDataUpFrontAndLosesNone() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, deviceSize: Device.minimumSize, volume: "vol", capacity: 1 << 30)
        defer { engine.shutdown() }
        var model = Model()
        var refusal: EngineError?
        var step: UInt64 = 0
        while refusal == nil, step < 300 {
            step += 1
            let key = "k\(step % 3)"
            do {
                if step % 4 == 0 {
                    try engine.createSnapshot(volume: "vol", snapshot: "s\(step)")
                    model.snapshot("s\(step)")
                } else if step % 5 == 0, let base = model.current(key) {
                    let patch = Scratch.splitMixBytes(4096, seed: step)
                    let upload = try engine.openPatch(volume: "vol", key: key, offset: 100, length: 4096, io: .buffered, sync: false)
                    try patch.withUnsafeBytes { try upload.append($0) }
                    _ = try upload.commit(etag: nil)
                    var bytes = base
                    bytes.replaceSubrange(100..<4196, with: patch)
                    model.write(key, bytes)
                } else {
                    let bytes = Scratch.splitMixBytes(3 << 20, seed: step)
                    let upload = try engine.openWrite(volume: "vol", key: key, WriteOptions(io: .buffered, sync: false, length: Int64(bytes.count)))
                    try bytes.withUnsafeBytes { try upload.append($0) }
                    _ = try upload.commit(etag: nil)
                    model.write(key, bytes)
                }
            } catch let error as EngineError {
                refusal = error
            }
        }
        guard case .noSpace(.pool, _, _)? = refusal else {
            Issue.record("no pool refusal after \(step) steps: \(String(describing: refusal))")
            return
        }
        #expect(model.snapshots.count > 2)
        try engine.flushVolume(named: "vol")
        #expect(engine.cacheTotals.writebackErrors == 0)
        #expect(engine.reservationFigures().accounted == 0)
        var random = SplitMix(state: 1)
        try Self.verify(engine, model, context: "full pool", random: &random, keys: ["k0", "k1", "k2"])
        // Deleting the snapshots frees what only they held: the refused write fits again.
        for name in model.snapshots.keys { try engine.deleteSnapshot(volume: "vol", snapshot: name) }
        model.snapshots = [:]
        #expect(try engine.volume(named: "vol").snapshotBytes == 0)
        let bytes = Scratch.splitMixBytes(3 << 20, seed: 999)
        let upload = try engine.openWrite(volume: "vol", key: "k0", WriteOptions(length: Int64(bytes.count)))
        try bytes.withUnsafeBytes { try upload.append($0) }
        _ = try upload.commit(etag: nil)
        model.write("k0", bytes)
        try Self.verify(engine, model, context: "after the snapshots are deleted", random: &random, keys: ["k0", "k1", "k2"])
        #expect(engine.check(verifyData: true).problems.isEmpty)
    }

    /// What snapshots alone hold counts against the volume's quota (as ZFS's `quota`): an
    /// overwrite of data a snapshot holds needs quota for both versions; deleting the snapshot
    /// gives it back.
    @Test func snapshotBytesCountAgainstTheQuota() throws {
        let dir = try Scratch.directory()
        defer { Scratch.remove(dir) }
        let (engine, _) = try Scratch.engine(dir, devices: 1, volume: "vol", capacity: 8 << 20)
        defer { engine.shutdown() }
        try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(3 << 20, seed: 1))
        try engine.createSnapshot(volume: "vol", snapshot: "s")
        try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(3 << 20, seed: 2))
        #expect(try engine.volume(named: "vol").usedBytes == 6 << 20)
        #expect(throws: EngineError.self) { try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(3 << 20, seed: 3)) }
        do {
            try Scratch.upload(engine, "vol", "k", Scratch.splitMixBytes(3 << 20, seed: 3))
        } catch {
            guard case .noSpace(.volumeQuota, _, _) = error as? EngineError else {
                Issue.record("not a quota refusal: \(error)")
                return
            }
        }
        try engine.deleteSnapshot(volume: "vol", snapshot: "s")
        #expect(try engine.volume(named: "vol").usedBytes == 3 << 20)
        let bytes = Scratch.splitMixBytes(3 << 20, seed: 4)
        try Scratch.upload(engine, "vol", "k", bytes)
        #expect(try Scratch.readObject(engine, "vol", "k") == bytes)
        #expect(engine.spaceAudit().isEmpty)
    }
}
