// A bounded queue of byte chunks between two threads that may wait: one pushes (and blocks while
// `maxChunks` are queued), the other pulls (and blocks while none is). A forwarded request's body
// goes from the upload's worker to the transfer's thread through one; its answer's body comes
// back through another. Either side may cancel: the other wakes and stops.
import Engine

package final class ByteChannel: Sendable {
    private struct State {
        var chunks: [[UInt8]] = []
        /// How far into `chunks.first` the puller is.
        var offset = 0
        var closed = false
        var cancelled = false
    }

    private let state = Lock(State())
    private let maxChunks: Int

    package struct Cancelled: Error {}

    package init(maxChunks: Int = 4) { self.maxChunks = maxChunks }

    /// Queues a copy of `bytes`, waiting for room; false when the channel was cancelled (the
    /// bytes are dropped).
    @discardableResult
    package func push(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        let chunk = [UInt8](bytes)
        state.wait { $0.chunks.count < maxChunks || $0.cancelled }
        return state.withLockWaking { state in
            guard !state.cancelled else { return false }
            state.chunks.append(chunk)
            return true
        }
    }

    /// Copies queued bytes into `buffer`, waiting for some; 0 once closed and drained. Throws
    /// when cancelled.
    package func pull(into buffer: UnsafeMutableRawBufferPointer) throws(Cancelled) -> Int {
        state.wait { !$0.chunks.isEmpty || $0.closed || $0.cancelled }
        return try state.withLockWaking { state throws(Cancelled) -> Int in
            if state.cancelled { throw Cancelled() }
            guard let front = state.chunks.first else { return 0 }
            let n = min(buffer.count, front.count - state.offset)
            front.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[state.offset..<state.offset + n]))
            }
            state.offset += n
            if state.offset == front.count {
                state.chunks.removeFirst()
                state.offset = 0
            }
            return n
        }
    }

    /// No more bytes will be pushed: the puller gets what is queued, then 0.
    package func close() { state.withLockWaking { $0.closed = true } }

    /// Both sides stop: a waiting push returns false, a pull throws.
    package func cancel() {
        state.withLockWaking { state in
            state.cancelled = true
            state.chunks = []
        }
    }
}
