// The bytes of inline extents whose rows a transaction deleted (their object replaced or deleted),
// kept for the readers that looked that version up before: a version's extents on devices keep
// their space until its last reader is done (the engine's DeferredFree), and its inline bytes,
// which live in the rows, are kept here as long. A change holds them inside the transaction that
// deletes the rows, so a reader that finds a row gone always finds its bytes here; the group
// commit drops them again when the change rolls back, the engine once no reader can want them.
package import Foundation
import Synchronization

package final class RetiredBodies: Sendable {
    private let held = Mutex<[Int64: Data]>([:])

    package init() {}

    /// Keeps the bytes of the inline extents among `extents` (rows about to be deleted); returns
    /// them by extent id.
    func hold(_ extents: [StoredExtent]) -> [Int64: Data] {
        var bodies: [Int64: Data] = [:]
        for extent in extents {
            if let body = extent.record.body, let id = extent.record.id { bodies[id] = body }
        }
        held.withLock { $0.merge(bodies) { _, new in new } }
        return bodies
    }

    /// The bytes of extents no reader can want any more (or whose deletion rolled back).
    package func drop<IDs: Collection<Int64>>(_ ids: IDs) {
        guard !ids.isEmpty else { return }
        held.withLock { held in for id in ids { held[id] = nil } }
    }

    /// The kept bytes of the deleted inline extent `id`; nil when not kept.
    package func body(_ id: Int64) -> Data? { held.withLock { $0[id] } }

    /// How many extents' bytes are kept.
    package var count: Int { held.withLock { $0.count } }
}

/// One change's view of `RetiredBodies`: what it kept, to drop again if it rolls back. nil
/// bodies: a change outside a group commit, whose caller frees nothing late (its readers of an
/// inline row it deletes are not protected).
final class Retiring {
    let bodies: RetiredBodies?
    private(set) var ids: [Int64] = []

    init(_ bodies: RetiredBodies?) { self.bodies = bodies }

    /// Keeps the bytes of the inline extents among `extents` (rows this change deletes); returns
    /// their ids, for the caller to release once no reader can want them.
    func hold(_ extents: [StoredExtent]) -> [Int64] {
        guard let bodies, extents.contains(where: { $0.record.body != nil }) else { return [] }
        let kept = Array(bodies.hold(extents).keys)
        ids += kept
        return kept
    }

    /// The change rolled back: its rows are still there.
    func rollBack() {
        bodies?.drop(ids)
        ids = []
    }
}
