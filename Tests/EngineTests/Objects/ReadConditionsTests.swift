import Foundation
import Testing

// The conditions of a read or a copy, in RFC 9110 §13.2.2's order: If-Match (else
// If-Unmodified-Since) decides failure before If-None-Match (else If-Modified-Since) decides 304.
@testable import Engine

@Suite struct ReadConditionsTests {
    static let info = ObjectInfo(
        key: "k", size: 1, etag: "abc", contentType: nil, createdAt: Date(timeIntervalSince1970: 1000),
        modifiedAt: Date(timeIntervalSince1970: 2000.7), metadata: [:], checksums: [:])

    @Test func noConditionsProceed() {
        #expect(ReadConditions.none.evaluate(Self.info) == .proceed)
    }

    @Test func ifMatch() {
        #expect(ReadConditions(ifMatch: .list(["abc"])).evaluate(Self.info) == .proceed)
        #expect(ReadConditions(ifMatch: .list(["x", "abc"])).evaluate(Self.info) == .proceed)
        #expect(ReadConditions(ifMatch: .list(["x"])).evaluate(Self.info) == .failed)
        #expect(ReadConditions(ifMatch: .list([])).evaluate(Self.info) == .failed)
        #expect(ReadConditions(ifMatch: .any).evaluate(Self.info) == .proceed)
    }

    @Test func ifNoneMatch() {
        #expect(ReadConditions(ifNoneMatch: .list(["abc"])).evaluate(Self.info) == .notModified)
        #expect(ReadConditions(ifNoneMatch: .list(["x"])).evaluate(Self.info) == .proceed)
        #expect(ReadConditions(ifNoneMatch: .any).evaluate(Self.info) == .notModified)
    }

    @Test func datesCompareWholeSeconds() {
        let at = Date(timeIntervalSince1970: 2000)  // the object's second
        #expect(ReadConditions(ifUnmodifiedSince: at).evaluate(Self.info) == .proceed)
        #expect(ReadConditions(ifUnmodifiedSince: at.addingTimeInterval(-1)).evaluate(Self.info) == .failed)
        #expect(ReadConditions(ifModifiedSince: at).evaluate(Self.info) == .notModified)
        #expect(ReadConditions(ifModifiedSince: at.addingTimeInterval(-1)).evaluate(Self.info) == .proceed)
    }

    @Test func tagsTakePrecedenceOverDates() {
        let past = Date(timeIntervalSince1970: 10)
        // If-Match holds: If-Unmodified-Since (which would fail) is not evaluated.
        #expect(ReadConditions(ifMatch: .list(["abc"]), ifUnmodifiedSince: past).evaluate(Self.info) == .proceed)
        // If-None-Match does not match: If-Modified-Since (which would say 304) is not evaluated.
        let future = Date(timeIntervalSince1970: 99_999)
        #expect(ReadConditions(ifNoneMatch: .list(["x"]), ifModifiedSince: future).evaluate(Self.info) == .proceed)
        // Failure wins over not-modified.
        #expect(ReadConditions(ifMatch: .list(["x"]), ifNoneMatch: .list(["abc"])).evaluate(Self.info) == .failed)
    }
}
