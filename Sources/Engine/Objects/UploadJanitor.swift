// Bounds on open multipart uploads: how many one volume may hold (a CreateMultipartUpload past it
// is refused, Engine+Multipart.swift), and the optional expiry after which a background thread
// aborts an upload and frees its parts (S3's AbortIncompleteMultipartUpload lifecycle rule, for
// every bucket). The abort itself is Engine.abortUpload's path; nothing here touches the catalog.
import Foundation
import Synchronization

final class UploadJanitor: Sendable {
    static let defaultMaxOpenPerVolume = 10_000

    private struct State {
        var maxOpenPerVolume = UploadJanitor.defaultMaxOpenPerVolume
        /// Seconds after its creation an open upload is aborted (0: never).
        var expiry: Double = 0
        var scheduled = false
        var sweeping = false
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled on stop and when a sweep ends.
    private let changed = NSCondition()

    var maxOpenPerVolume: Int { state.withLock { $0.maxOpenPerVolume } }

    func configure(_ engine: Engine, maxOpenPerVolume: Int, expiry: Double) {
        let schedule = state.withLock { state -> Bool in
            state.maxOpenPerVolume = maxOpenPerVolume
            state.expiry = expiry
            defer { if expiry > 0 { state.scheduled = true } }
            return expiry > 0 && !state.scheduled
        }
        guard schedule else { return }
        let thread = Thread { [weak engine, self] in
            while true {
                let expiry = state.withLock { $0.expiry }
                sleep(seconds: Self.period(expiry: expiry))
                guard let engine else { return }
                // nil: stopping; 0: no expiry (nothing to sweep); else the expiry in seconds.
                let sweep = state.withLock { state -> Double? in
                    if state.stopping { return nil }
                    state.sweeping = state.expiry > 0
                    return state.expiry
                }
                guard let sweep else { return }
                guard sweep > 0 else { continue }
                engine.abortExpiredUploads(before: Date().addingTimeInterval(-sweep))
                state.withLock { $0.sweeping = false }
                changed.lock()
                changed.broadcast()
                changed.unlock()
            }
        }
        thread.name = "upload-expiry"
        thread.start()
    }

    /// Seconds between sweeps: a tenth of the expiry, from 1 s to 10 minutes (an upload lives at
    /// most that much past its expiry).
    static func period(expiry: Double) -> Double { min(max(expiry / 10, 1), 600) }

    /// Stops the sweeps; waits (up to 30 s) for one under way, before the catalog closes.
    func stop() {
        state.withLock { $0.stopping = true }
        changed.lock()
        changed.broadcast()
        let until = Date().addingTimeInterval(30)
        while state.withLock({ $0.sweeping }), Date() < until { _ = changed.wait(until: min(until, Date().addingTimeInterval(0.05))) }
        changed.unlock()
    }

    /// Sleeps up to `seconds`, waking early when stopping.
    private func sleep(seconds: Double) {
        let until = Date().addingTimeInterval(seconds)
        changed.lock()
        while Date() < until, !state.withLock({ $0.stopping }) { _ = changed.wait(until: min(until, Date().addingTimeInterval(0.25))) }
        changed.unlock()
    }
}
