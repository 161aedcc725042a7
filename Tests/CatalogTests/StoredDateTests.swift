// The catalog's own date text must be GRDB's to the character: rows written with either read back
// alike, and listings sort by it.
import Foundation
import GRDB
import Testing

@testable import Catalog

@Suite struct StoredDateTests {
    static func grdbText(_ date: Date) -> String { String.fromDatabaseValue(date.databaseValue)! }

    @Test func matchesGRDBsTextForManyDates() {
        var random = SystemRandomNumberGenerator()
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
            Date(timeIntervalSince1970: 4_107_542_399.999),  // 2100-02-28 23:59:59.999
            Date(timeIntervalSince1970: 1_796_000_000.123), Date(timeIntervalSince1970: 1_796_000_000.9999),
            Date(timeIntervalSince1970: -1.5), Date(timeIntervalSince1970: 253_402_300_799),  // 9999-12-31 23:59:59
        ]
        for _ in 0..<20_000 {
            let seconds = Double.random(in: 0..<7_258_118_400, using: &random)  // 1970 ..< 2200
            dates.append(Date(timeIntervalSince1970: seconds))
            // As the engine stamps them: truncated to the millisecond.
            dates.append(Date(timeIntervalSince1970: (seconds * 1000).rounded(.down) / 1000))
        }
        dates.append(Date())
        var mismatches: [String] = []
        for date in dates where StoredDate.text(date) != Self.grdbText(date) {
            mismatches.append("\(date.timeIntervalSince1970): \(StoredDate.text(date)) vs GRDB \(Self.grdbText(date))")
        }
        let (count, first) = (mismatches.count, Array(mismatches.prefix(5)))
        #expect(count == 0, "\(count) of \(dates.count) differ: \(first)")
    }

    @Test func readsBackAsTheSameDate() throws {
        for seconds in [0.0, 1_796_000_000.123, 1_796_000_000.5, 4_102_444_800.001] {
            let date = Date(timeIntervalSince1970: seconds)
            let back = Date.fromDatabaseValue(StoredDate.text(date).databaseValue)
            #expect(back == Date.fromDatabaseValue(date.databaseValue), "\(seconds)")
        }
    }

    /// The catalog's text read back by `StoredDate.date` is GRDB's date to the bit, from 1583 to
    /// 9999 (leap days, century years, the last millisecond of a day), and other text is not read.
    @Test func parsesBackAsGRDBDoes() {
        var random = SystemRandomNumberGenerator()
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 4_107_542_399.999),
            Date(timeIntervalSince1970: -1.5), Date(timeIntervalSince1970: 253_402_300_799.999), Date(timeIntervalSince1970: -12_212_553_600),
        ]
        for _ in 0..<20_000 {
            let ms = Int64.random(in: -12_212_553_600_000..<253_402_300_800_000, using: &random)  // 1583 ..< 10000
            dates.append(Date(timeIntervalSince1970: Double(ms) / 1000))
        }
        var mismatches: [String] = []
        for date in dates {
            let text = StoredDate.text(date)
            let ours = Array(text.utf8).withUnsafeBufferPointer { StoredDate.date($0) }
            let grdb = Date.fromDatabaseValue(text.databaseValue)
            if ours == nil || ours != grdb {
                mismatches.append(
                    "\(text): \(String(describing: ours?.timeIntervalSince1970)) vs GRDB \(String(describing: grdb?.timeIntervalSince1970))")
            }
        }
        let (count, first) = (mismatches.count, Array(mismatches.prefix(5)))
        #expect(count == 0, "\(count) of \(dates.count) differ: \(first)")
        for other in [
            "2026-12-07 02:14:08", "2026-12-07T02:14:08.123", "1500-01-01 00:00:00.000", "2026-02-30 00:00:00.000", "2026-12-07 24:00:00.000",
            "2026-1a-07 02:14:08.123",
        ] {
            #expect(Array(other.utf8).withUnsafeBufferPointer { StoredDate.date($0) } == nil, "\(other)")
        }
    }
}
