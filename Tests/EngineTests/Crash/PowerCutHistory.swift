// What the power-cut workload did and when, on one clock shared with the durability barriers:
// enough to say, for a cut at any barrier, which states each key may be found in afterwards.
import Foundation
import Synchronization

/// One operation on one key. Operations on a key run one after another (one thread owns it).
struct PowerCutOp: Sendable {
    enum Kind: String, Sendable { case put, patch, delete }
    var kind: Kind
    /// The key's content once this operation has applied; nil: absent.
    var result: [UInt8]?
    var start: Int
    /// The clock when it returned successfully; nil when it failed.
    var end: Int?
    /// Answered only once durable (sync), or acknowledged from memory (async: durable after a flush).
    var sync: Bool
}

final class PowerCutHistory: @unchecked Sendable {
    private let clock = Atomic<Int>(0)
    private let lock = NSLock()
    private var ops: [String: [PowerCutOp]] = [:]  // "volume/key", in order
    private var flushes: [String: [(start: Int, end: Int)]] = [:]  // by volume, completed ones
    private var barrierClock: [Int: Int] = [:]
    /// Versions acknowledged in a volume that keeps them: each must outlive any later cut.
    private var versions: [String: [(id: String, bytes: [UInt8], end: Int)]] = [:]

    func tick() -> Int { clock.add(1, ordering: .sequentiallyConsistent).newValue }

    func record(_ id: String, _ op: PowerCutOp) { lock.withLock { ops[id, default: []].append(op) } }

    /// Server-side copies answered (each recorded as a PUT of its target with the source's bytes).
    private let copies = Atomic<Int>(0)
    func recordCopy() { copies.add(1, ordering: .relaxed) }
    var copiesMade: Int { copies.load(ordering: .relaxed) }

    func recordVersion(_ id: String, version: String, bytes: [UInt8], end: Int) {
        lock.withLock { versions[id, default: []].append((version, bytes, end)) }
    }

    /// The versions of `id` acknowledged (durable: versions are written sync) before a cut at `cut`.
    func versions(_ id: String, before cut: Int) -> [(id: String, bytes: [UInt8])] {
        lock.withLock { (versions[id] ?? []).filter { $0.end < cut }.map { ($0.id, $0.bytes) } }
    }

    /// Snapshots taken (and perhaps deleted) by the workload.
    struct Snapshot: Sendable {
        var name: String
        var volume: String
        var start: Int
        /// When taking it returned; nil: it failed.
        var end: Int?
        var deleteStart: Int?
        var deleteEnd: Int?
        /// A clone made of it: its name, and when making it started and returned (nil: it failed
        /// or the cut came first).
        var clone: (name: String, start: Int, end: Int?)?
    }
    private var snapshotOps: [Snapshot] = []

    func recordSnapshot(_ snapshot: Snapshot) { lock.withLock { snapshotOps.append(snapshot) } }

    func recordSnapshotDeletion(_ name: String, start: Int, end: Int?) {
        lock.withLock {
            guard let i = snapshotOps.firstIndex(where: { $0.name == name }) else { return }
            (snapshotOps[i].deleteStart, snapshotOps[i].deleteEnd) = (start, end)
        }
    }

    var snapshots: [Snapshot] { lock.withLock { snapshotOps } }

    func recordClone(_ name: String, of snapshot: String, start: Int, end: Int?) {
        lock.withLock {
            guard let i = snapshotOps.firstIndex(where: { $0.name == snapshot }) else { return }
            snapshotOps[i].clone = (name, start, end)
        }
    }

    /// The states `id` may have in a snapshot taken between `start` and `end`: what the last
    /// operation answered before `start` left (taking a snapshot writes back what async writes
    /// left in the cache), or what any operation after it that had started before `end` left.
    func allowed(_ id: String, inSnapshotTakenFrom start: Int, to end: Int) -> [[UInt8]?] {
        lock.withLock {
            let list = ops[id] ?? []
            let last = list.lastIndex { $0.end.map { $0 < start } ?? false }
            var states: [[UInt8]?] = [last.map { list[$0].result } ?? nil]
            for op in list[(last.map { $0 + 1 } ?? 0)...] where op.start < end { states.append(op.result) }
            return states
        }
    }

    func recordFlush(volume: String, start: Int, end: Int) { lock.withLock { flushes[volume, default: []].append((start, end)) } }

    /// At barrier `number`, inside the model's lock: the instant of its cut on this clock.
    func barrier(_ number: Int) { lock.withLock { barrierClock[number] = tick() } }

    func clock(atBarrier number: Int) -> Int? { lock.withLock { barrierClock[number] } }

    var keys: [String] { lock.withLock { ops.keys.sorted() } }

    /// The states `id` may be in after a cut at clock `cut`: what the last operation answered as
    /// durable before the cut left (absent if none), or what any operation after it that had
    /// started by then left.
    func allowed(_ id: String, volume: String, cut: Int) -> [[UInt8]?] {
        lock.withLock {
            let list = ops[id] ?? []
            let volumeFlushes = flushes[volume] ?? []
            func durable(_ op: PowerCutOp) -> Int? {
                guard let end = op.end else { return nil }
                if op.sync { return end }
                return volumeFlushes.filter { $0.start > end }.map(\.end).min()
            }
            let last = list.lastIndex { durable($0).map { $0 < cut } ?? false }
            var states: [[UInt8]?] = [last.map { list[$0].result } ?? nil]
            for op in list[(last.map { $0 + 1 } ?? 0)...] where op.start < cut { states.append(op.result) }
            return states
        }
    }

    /// A short account of `id`'s operations, for a violation's message.
    func describe(_ id: String, volume: String, cut: Int) -> String {
        lock.withLock {
            let flushed = (flushes[volume] ?? []).map { "[\($0.start)-\($0.end)]" }.joined(separator: " ")
            return (ops[id] ?? []).map { op in
                let size = op.result.map { "\($0.count) B" } ?? "absent"
                let end = op.end.map(String.init) ?? "failed"
                return "\(op.kind.rawValue)\(op.sync ? "" : "(async)") → \(size) [\(op.start)-\(end)]"
            }.joined(separator: ", ") + " ; flushes of \(volume): \(flushed.isEmpty ? "none" : flushed) ; cut at \(cut)"
        }
    }
}
