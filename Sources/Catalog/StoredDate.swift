// A date as the catalog stores it: GRDB's text form, "yyyy-MM-dd HH:mm:ss.SSS" in UTC, made
// (and read back: `date`) without a DateFormatter or a Calendar. GRDB binds a Date through Foundation's DateFormatter, ~15,000
// instructions a date (callgrind: two a small PUT's commit); this is a few hundred. The text is
// the same to the character (CatalogTests/StoredDateTests compares them), so rows written either
// way read back alike.
import Foundation

enum StoredDate {
    static func text(_ date: Date) -> String {
        // Milliseconds since 1970, rounded to the nearest as the formatter does.
        let ms = Int64(((date.timeIntervalSinceReferenceDate + Date.timeIntervalBetween1970AndReferenceDate) * 1000).rounded())
        let (days, inDay) = CivilDate.days(ms, per: 86_400_000)
        let civil = CivilDate(daysSince1970: days)
        let (year, month, day) = (civil.year, civil.month, civil.day)
        var out = [UInt8]()
        out.reserveCapacity(23)
        func digits(_ value: Int64, _ width: Int) {
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: " "))
        digits(inDay / 3_600_000, 2)
        out.append(UInt8(ascii: ":"))
        digits(inDay / 60_000 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(inDay / 1000 % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(inDay % 1000, 3)
        return String(decoding: out, as: UTF8.self)
    }

    /// The date of `text` in the catalog's form (exactly 23 bytes, years 1583-9999), as GRDB
    /// reads it (its parser goes through a Calendar, ~2,600 instructions a date: two a listed
    /// object); nil for any other text, which the caller leaves to GRDB.
    static func date(_ text: UnsafeBufferPointer<UInt8>) -> Date? {
        guard text.count == 23, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"), text[10] == UInt8(ascii: " "),
            text[13] == UInt8(ascii: ":"), text[16] == UInt8(ascii: ":"), text[19] == UInt8(ascii: ".")
        else { return nil }
        func number(_ start: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for i in start..<start + count {
                let digit = text[i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                value = value * 10 + Int64(digit)
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
            let minute = number(14, 2), let second = number(17, 2), let millisecond = number(20, 3),
            (1583...9999).contains(year), (1...12).contains(month), (1...CivilDate.daysIn(month: month, year: year)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return nil }
        let days = CivilDate.daysSince1970(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        return Date(timeIntervalSinceReferenceDate: Double(seconds) - Date.timeIntervalBetween1970AndReferenceDate + Double(millisecond) / 1000)
    }
}
