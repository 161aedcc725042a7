// RFC 3339 timestamps in UTC (`2026-12-07T02:14:08Z`, or `…08.123Z` with milliseconds), written by
// arithmetic on the civil date: the JSON's dates (`Date.wireFormat`) and S3's (`S3Handlers.iso8601`).
// Foundation's ISO 8601 format style took ~9,000 instructions a date and `String(format:)` ~44,000,
// and a listing page has a thousand of them. Callers keep their library formatter for the years
// where it and this arithmetic are not proven equal (HTTPDateTests, S3XMLTests compare them).
import Catalog
import Foundation

enum RFC3339 {
    /// The timestamp of `date` (seconds floored, milliseconds truncated), or nil when its year is
    /// outside `years`.
    static func format(_ date: Date, milliseconds: Bool, years: ClosedRange<Int64>) -> String? {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let (days, time) = CivilDate.days(seconds, per: 86_400)
        let civil = CivilDate(daysSince1970: days)
        guard years.contains(civil.year), (0...9999).contains(civil.year) else { return nil }
        let millis = Int64((date.timeIntervalSince1970 - Double(seconds)) * 1000)
        let length = milliseconds ? 24 : 20
        return String(unsafeUninitializedCapacity: length) { out in
            func digits(_ at: Int, _ value: Int64, _ count: Int) { Self.writeDigits(value, count: count, into: out, at: at) }
            digits(0, civil.year, 4)
            out[4] = UInt8(ascii: "-")
            digits(5, civil.month, 2)
            out[7] = UInt8(ascii: "-")
            digits(8, civil.day, 2)
            out[10] = UInt8(ascii: "T")
            digits(11, time / 3600, 2)
            out[13] = UInt8(ascii: ":")
            digits(14, time / 60 % 60, 2)
            out[16] = UInt8(ascii: ":")
            digits(17, time % 60, 2)
            if milliseconds {
                out[19] = UInt8(ascii: ".")
                digits(20, millis, 3)
            }
            out[length - 1] = UInt8(ascii: "Z")
            return length
        }
    }

    /// `value` in `count` decimal digits (zero-padded, its lowest digits if longer) at `out[at...]`:
    /// the fixed-width fields of this and of HTTP's IMF-fixdate.
    static func writeDigits(_ value: Int64, count: Int, into out: UnsafeMutableBufferPointer<UInt8>, at: Int) {
        var value = value
        for i in (0..<count).reversed() {
            out[at + i] = UInt8(ascii: "0") + UInt8(value % 10)
            value /= 10
        }
    }
}
