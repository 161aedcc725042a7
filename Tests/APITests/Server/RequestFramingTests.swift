import Engine
import Testing

// A request's head checked before anything is done with it: target, framing, declared length.
@testable import API

@Suite struct RequestFramingTests {
    static func check(
        target: String? = "/v1/x", length: String? = nil, coding: String? = nil, limit: Int? = 1 << 20
    ) -> Result<RequestFraming, HTTPError> {
        RequestFraming.check(target: target, contentLength: length, transferEncoding: coding, bodyLimit: limit)
    }

    @Test func ordinaryHeads() {
        #expect(Self.check() == .success(RequestFraming(expectedLength: nil, chunked: false)))
        #expect(Self.check(length: "12") == .success(RequestFraming(expectedLength: 12, chunked: false)))
        #expect(Self.check(coding: "Chunked") == .success(RequestFraming(expectedLength: nil, chunked: true)))
        #expect(Self.check(length: "9000000", limit: nil) == .success(RequestFraming(expectedLength: 9_000_000, chunked: false)))
    }

    @Test func targetsThatCannotBeRouted() {
        for target in [nil, "x/v1/volumes", "*", "", "/a\u{0}b"] as [String?] {
            guard case .failure(.invalidURI) = Self.check(target: target) else {
                Issue.record("\(String(describing: target)) was not refused")
                continue
            }
        }
    }

    @Test func framingThatIsAmbiguousOrUnknown() {
        guard case .failure(.badRequest) = Self.check(length: "3", coding: "chunked") else { Issue.record("CL + TE taken"); return }
        for coding in ["gzip", "gzip, chunked", "chunked, chunked", "identity"] {
            guard case .failure(.notImplemented) = Self.check(coding: coding) else { Issue.record("\(coding) taken"); continue }
        }
    }

    @Test func lengthsParsedOnceAndBounded() {
        // Over the route's limit but within what is read and dropped: refused once the body is in.
        #expect(Self.check(length: "1048577") == .success(RequestFraming(expectedLength: 1_048_577, chunked: false)))
        #expect(Self.check(length: "67108865") == .failure(.payloadTooLarge(limit: 1 << 20)))
        #expect(Self.check(length: "9223372036854775807", limit: nil) == .failure(.objectTooLarge(limit: Engine.maxObjectBytes)))
        #expect(Self.check(length: "99999999999999999999999", limit: nil) == .failure(.objectTooLarge(limit: Engine.maxObjectBytes)))
        for length in ["-1", "1e3", "0x10", "", "+4"] {
            #expect(Self.check(length: length) == .failure(.badRequest("Content-Length must be a non-negative integer")))
        }
    }
}
