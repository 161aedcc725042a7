import Foundation
import Testing

// HTTPDate.format builds IMF-fixdates by arithmetic: it must say exactly what strftime says, on
// leap days, century years, the epoch, before it, and on dates spread over ten thousand years; so
// must the JSON's RFC 3339 dates (`wireFormat`) say what Foundation's ISO 8601 format style says.
@testable import API

@Suite struct HTTPDateTests {
    static let edges: [TimeInterval] = [
        0, -1, 86_399, 86_400, 784_111_777, 951_782_400, 951_868_799, 4_107_542_400, 1_709_164_800.75, -2_208_988_800,
        -62_135_596_800, 253_402_300_799,
    ]

    @Test func edgesMatchTheCLibrary() {
        for seconds in Self.edges {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(HTTPDate.format(date) == HTTPDate.formattedByStrftime(date), "\(seconds)")
        }
        #expect(HTTPDate.format(Date(timeIntervalSince1970: 784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func spreadDatesMatchTheCLibrary() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let date = Date(timeIntervalSince1970: TimeInterval(Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator)))
            let (ours, theirs) = (HTTPDate.format(date), HTTPDate.formattedByStrftime(date))
            if ours != theirs {
                Issue.record("\(date.timeIntervalSince1970): \(ours) vs \(theirs)")
                return
            }
        }
    }

    @Test func wireFormatMatchesTheISO8601FormatStyle() {
        for seconds in Self.edges {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(date.wireFormat == date.formatted(.iso8601), "\(seconds)")
        }
        #expect(Date(timeIntervalSince1970: 784_111_777).wireFormat == "1994-11-06T08:49:37Z")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let date = Date(timeIntervalSince1970: Double(Int64.random(in: -62_135_596_800...253_402_300_799, using: &generator)) + 0.25)
            if date.wireFormat != date.formatted(.iso8601) {
                Issue.record("\(date.timeIntervalSince1970): \(date.wireFormat) vs \(date.formatted(.iso8601))")
                return
            }
        }
    }
}
