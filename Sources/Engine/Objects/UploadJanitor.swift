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
        var stopping = false
        var sweeps: PeriodicTask?
    }

    private let state = Mutex(State())

    var maxOpenPerVolume: Int { state.withLock { $0.maxOpenPerVolume } }

    func configure(_ engine: Engine, maxOpenPerVolume: Int, expiry: Double) {
        let schedule = state.withLock { state -> Bool in
            state.maxOpenPerVolume = maxOpenPerVolume
            state.expiry = expiry
            return expiry > 0 && state.sweeps == nil && !state.stopping
        }
        guard schedule else { return }
        let sweeps = PeriodicTask(name: "upload-expiry", period: { [self] in Self.period(expiry: state.withLock { $0.expiry }) }) {
            [weak engine, self] in
            guard let engine else { return false }
            let expiry = state.withLock { $0.expiry }
            if expiry > 0 { engine.abortExpiredUploads(before: Date().addingTimeInterval(-expiry)) }
            return true
        }
        state.withLock { $0.sweeps = sweeps }
    }

    /// Seconds between sweeps: a tenth of the expiry, from 1 s to 10 minutes (an upload lives at
    /// most that much past its expiry).
    static func period(expiry: Double) -> Double { min(max(expiry / 10, 1), 600) }

    /// Stops the sweeps; waits (up to 30 s) for one under way, before the catalog closes.
    func stop() {
        state.withLock { state in
            state.stopping = true
            return state.sweeps.take()
        }?.stop()
    }
}
