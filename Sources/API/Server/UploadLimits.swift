// How many uploads may be receiving their body at once, per volume and per signer (an S3 access
// key, or the admin token), and in all: each holds a worker thread and its space reservation
// while its body arrives. Past a bound a new upload is refused at once (503, S3 SlowDown) rather
// than queued behind the ones that hold it.
import Synchronization

package final class UploadLimits: Sendable {
    package struct Bounds: Sendable {
        package var perVolume: Int
        package var perKey: Int
        package var total: Int
        package init(perVolume: Int = 256, perKey: Int = 256, total: Int = 768) {
            (self.perVolume, self.perKey, self.total) = (perVolume, perKey, total)
        }
    }

    private struct Counts {
        var volumes: [String: Int] = [:]
        var keys: [String: Int] = [:]
        var total = 0
    }

    let bounds: Bounds
    private let counts = Mutex(Counts())

    package init(_ bounds: Bounds = Bounds()) { self.bounds = bounds }

    /// Takes a slot for an upload into `volume` by `key`, or throws the refusal naming the bound.
    func acquire(volume: String, key: String) throws(HTTPError) {
        try counts.withLock { counts throws(HTTPError) in
            try refuseIfFull(counts, volume: volume, key: key)
            counts.total += 1
            counts.volumes[volume, default: 0] += 1
            counts.keys[key, default: 0] += 1
        }
    }

    /// Throws the refusal an upload would get now, taking nothing.
    func check(volume: String, key: String) throws(HTTPError) {
        try counts.withLock { counts throws(HTTPError) in try refuseIfFull(counts, volume: volume, key: key) }
    }

    private func refuseIfFull(_ counts: Counts, volume: String, key: String) throws(HTTPError) {
        if counts.total >= bounds.total { throw .slowDown("\(bounds.total) uploads are in progress; retry shortly") }
        if counts.volumes[volume, default: 0] >= bounds.perVolume {
            throw .slowDown("\(bounds.perVolume) uploads into \(volume) are in progress; retry shortly")
        }
        if counts.keys[key, default: 0] >= bounds.perKey { throw .slowDown("\(bounds.perKey) uploads by this key are in progress; retry shortly") }
    }

    func release(volume: String, key: String) {
        counts.withLock { counts in
            counts.total -= 1
            counts.volumes[volume, default: 1] -= 1
            if counts.volumes[volume] == 0 { counts.volumes[volume] = nil }
            counts.keys[key, default: 1] -= 1
            if counts.keys[key] == 0 { counts.keys[key] = nil }
        }
    }

    /// Uploads receiving their body now.
    package var inFlight: Int { counts.withLock { $0.total } }
}

/// Holds an upload's slot from the opening of its body to its answer (or abort).
struct UploadLimitMiddleware: Middleware {
    let limits: UploadLimits

    func handle(_ request: HTTPRequest, context: RequestContext, next: Next) throws -> RouteOutcome {
        guard case .success(.stream) = context.resolution else { return try next(request, context) }
        // A forwarded request without a body streams nothing here (its owner bounds its uploads).
        if context.parameters[ForwardTarget.nodeParameter] != nil, ["GET", "HEAD", "DELETE"].contains(request.method) {
            return try next(request, context)
        }
        let volume = context.parameters["name"] ?? context.parameters["bucket"] ?? ""
        let key = context.s3?.key.id ?? "admin"
        // On the event loop an upload is almost always handed to a worker (which takes the slot
        // then): a full bound is refused here at once, and a slot taken only if the loop opens it.
        if !context.mayBlock {
            try limits.check(volume: volume, key: key)
            let outcome = try next(request, context)
            guard case .opened(let sink, let context) = outcome else { return outcome }
            do {
                try limits.acquire(volume: volume, key: key)
            } catch {
                sink.abort()
                throw error
            }
            return .opened(SlotHoldingSink(sink) { [limits] in limits.release(volume: volume, key: key) }, context)
        }
        try limits.acquire(volume: volume, key: key)
        let outcome: RouteOutcome
        do {
            outcome = try next(request, context)
        } catch {
            limits.release(volume: volume, key: key)
            throw error
        }
        switch outcome {
        case .response:
            limits.release(volume: volume, key: key)
            return outcome
        case .opened(let sink, let context):
            return .opened(SlotHoldingSink(sink) { [limits] in limits.release(volume: volume, key: key) }, context)
        }
    }
}

/// A body sink that gives its upload slot back once, when it finishes or is aborted.
final class SlotHoldingSink: RequestBodySink, @unchecked Sendable {
    // @unchecked: one worker drives a sink (UploadPump); `released` guards the hand-back.
    private let inner: any RequestBodySink
    private let release: @Sendable () -> Void
    private let released = Atomic<Bool>(false)

    init(_ inner: any RequestBodySink, release: @escaping @Sendable () -> Void) {
        self.inner = inner
        self.release = release
    }

    deinit { giveBack() }

    private func giveBack() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) { release() }
    }

    func consume(_ bytes: UnsafeRawBufferPointer) throws { try inner.consume(bytes) }

    func finish() throws -> HTTPResponse {
        defer { giveBack() }
        return try inner.finish()
    }

    func abort() {
        inner.abort()
        giveBack()
    }
}
