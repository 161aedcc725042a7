// A date as the catalog stores it: GRDB's text form, "yyyy-MM-dd HH:mm:ss.SSS" in UTC, made
// without a DateFormatter. GRDB binds a Date through Foundation's DateFormatter, ~15,000
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
}
