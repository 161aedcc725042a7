import Testing

// A request's life on its connection as a value: a refusal known on the head goes out at once or
// after the body is dropped (never after more than the discard limit), a buffered request is
// dispatched once, and body bytes after an answer are dropped.
@testable import API

@Suite struct RequestPhaseTests {
    static let refusal = HTTPResponse(status: 401)

    @Test func aRefusalNowIsAnsweredAtOnceAndLaterBytesAreDropped() {
        var phase = RequestPhase()
        guard case .answer(let response) = phase.refuse(Self.refusal, now: true) else {
            Issue.record("a refusal now is answered now")
            return
        }
        #expect(response.status == 401)
        #expect(phase.dropsBody)
        guard case .wait = phase.dropped(1000) else {
            Issue.record("bytes after the answer are only dropped")
            return
        }
    }

    @Test func aDeferredRefusalWaitsForTheBodysEnd() {
        var phase = RequestPhase()
        phase.headHandled(streaming: false)
        guard case .wait = phase.refuse(Self.refusal, now: false) else {
            Issue.record("a deferred refusal waits")
            return
        }
        guard case .wait = phase.dropped(4096) else {
            Issue.record("the body is still arriving")
            return
        }
        guard case .answer(let response) = phase.dropped(0) else {
            Issue.record("the body's end sends the answer")
            return
        }
        #expect(response.status == 401)
        guard case .answered = phase.state else {
            Issue.record("answered after the answer")
            return
        }
    }

    @Test func aDeferredRefusalGoesOutPastTheDiscardLimit() {
        var phase = RequestPhase()
        phase.headHandled(streaming: true)
        _ = phase.refuse(Self.refusal, now: false)
        var answered = false
        var sent = 0
        while !answered, sent <= RequestPhase.discardLimit + (1 << 20) {
            sent += 1 << 20
            if case .answer = phase.dropped(1 << 20) { answered = true }
        }
        #expect(answered)
        #expect(sent > RequestPhase.discardLimit && sent <= RequestPhase.discardLimit + (1 << 20))
    }

    @Test func aBufferedRequestIsDispatchedThenAnswered() {
        var phase = RequestPhase()
        phase.headHandled(streaming: false)
        #expect(phase.isBuffering && !phase.dropsBody)
        phase.dispatch()
        #expect(phase.isDispatched)
        phase.answered()
        #expect(phase.dropsBody)
    }

    @Test func dispatchingTwiceIsABug() async {
        await #expect(processExitsWith: .failure) {
            var phase = RequestPhase()
            phase.headHandled(streaming: false)
            phase.dispatch()
            phase.dispatch()
        }
    }
}
