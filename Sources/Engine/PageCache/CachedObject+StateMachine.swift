// Who may use one key's cache entry now: the lifecycle of a CachedObject as a value. Events
// return what the caller may do; nothing here takes a lock, does IO or reads a clock (the cache
// lock is held by the caller; waiting happens outside it).
//
//   idle ──beginWriteback──▶ flushing ──endWriteback──▶ idle
//   (placeholder) committing ──────────── the key's bypassing commit ends: entry removed
//   (placeholder) loading ──────────────── its catalog row was read (outside the cache lock):
//                                            replaced by the loaded entry, or removed
//   idle ──retire──▶ retired (dropped from the cache; readers that opened it keep it)
//
// A `committing` entry is a placeholder with no data: a commit that bypasses the cache (a direct
// upload's, a delete's) holds the key with it, so no one loads the version it is replacing from
// the catalog, writes over it or writes it back meanwhile.
struct ObjectLifecycle: Sendable, Equatable, CustomStringConvertible {
    enum State: Sendable, Equatable {
        case idle
        /// A writeback of the entry is running (one at a time): writers and drops wait, readers read.
        case flushing
        /// Placeholder of a commit that bypasses the cache: everyone waits.
        case committing
        /// Placeholder while the key's catalog row is read outside the cache lock: everyone waits.
        case loading
        /// Dropped from the cache: no new user finds it.
        case retired
    }

    /// What a caller wants to do with the entry.
    enum Use: Sendable, Equatable {
        /// Read it, or load it from the catalog.
        case read
        /// Change it, drop it, or start a writeback of it.
        case change
    }

    enum Decision: Sendable, Equatable {
        case proceed
        /// Wait outside the lock and look again.
        case wait
    }

    private(set) var state: State

    init(_ state: State = .idle) { self.state = state }

    var description: String { "\(state)" }

    var isIdle: Bool { state == .idle }
    var isFlushing: Bool { state == .flushing }
    var isPlaceholder: Bool { state == .committing || state == .loading }

    func admits(_ use: Use) -> Decision {
        switch (state, use) {
        case (.idle, _), (.flushing, .read): .proceed
        case (.flushing, .change), (.committing, _), (.loading, _): .wait
        case (.retired, _): preconditionFailure("a retired cache entry is not in the cache")
        }
    }

    mutating func beginWriteback() {
        precondition(state == .idle, "writeback of a cache entry that is \(state)")
        state = .flushing
    }

    mutating func endWriteback() {
        precondition(state == .flushing, "end of a writeback of a cache entry that is \(state)")
        state = .idle
    }

    mutating func retire() {
        precondition(state == .idle, "dropping a cache entry that is \(state)")
        state = .retired
    }
}
