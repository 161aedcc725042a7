// Where one request is in its life on its connection, as a value: libmicrohttpd calls the access
// handler again and again for one request (the head, each piece of the body, the body's end, and
// again after a suspended connection is resumed), and each call does what the phase says.
//
//   head ──▶ buffering ──(end of body)──▶ dispatched ──(worker's answer)──▶ answered
//     │  └─▶ streaming ──(pump's answer)──────────────────────────────────▶ answered
//     └────▶ discarding(answer) ──(end of body, or past the discard limit)──▶ answered
//   (a refusal mid-stream: streaming ──▶ discarding; an answer on the head: ──▶ answered)
//
// Events return the action for the server to carry out; nothing here does IO or takes a lock.
struct RequestPhase {
    enum State {
        /// Before the head has been handled.
        case head
        /// A body, if any, kept in memory for a route whose body is not streamed.
        case buffering
        /// A streamed upload's body goes to its pump.
        case streaming
        /// The answer is known before the body's end: the rest is read and dropped (up to
        /// `discardLimit`), then the answer goes out. Answering with unread bytes in the socket
        /// makes the close a reset, which can swallow the answer.
        case discarding(HTTPResponse, dropped: Int)
        /// A worker runs the request; the connection is suspended until it answers.
        case dispatched
        /// An answer was queued; any later body bytes are dropped.
        case answered
    }

    static let discardLimit = 64 << 20

    private(set) var state = State.head

    enum Action {
        /// Nothing to send yet.
        case wait
        /// Queue this answer.
        case answer(HTTPResponse)
    }

    /// The head is handled and its body (if any) is wanted: buffered, or streamed to a pump.
    mutating func headHandled(streaming: Bool) {
        precondition(isHead, "the head of a request handled twice")
        state = streaming ? .streaming : .buffering
    }

    /// The answer is known from the head or mid-body: at once, or after the body is dropped.
    mutating func refuse(_ response: HTTPResponse, now: Bool) -> Action {
        if now {
            state = .answered
            return .answer(response)
        }
        state = .discarding(response, dropped: 0)
        return .wait
    }

    /// `count` body bytes arrived while answering or answered (0: the body's end): dropped.
    mutating func dropped(_ count: Int) -> Action {
        guard case .discarding(let response, let dropped) = state else { return .wait }
        let total = dropped + count
        if count == 0 || total > Self.discardLimit {
            state = .answered
            return .answer(response)
        }
        state = .discarding(response, dropped: total)
        return .wait
    }

    /// The buffered request goes to a worker.
    mutating func dispatch() {
        precondition(isBuffering, "only a buffered request is dispatched")
        state = .dispatched
    }

    /// An answer was queued (the handler's, the pump's, or the worker's).
    mutating func answered() { state = .answered }

    var isHead: Bool { if case .head = state { true } else { false } }
    var isBuffering: Bool { if case .buffering = state { true } else { false } }
    var isStreaming: Bool { if case .streaming = state { true } else { false } }
    var isDispatched: Bool { if case .dispatched = state { true } else { false } }
    /// The body is no longer wanted (an answer is known or sent).
    var dropsBody: Bool {
        switch state {
        case .discarding, .answered: true
        case .head, .buffering, .streaming, .dispatched: false
        }
    }
}
