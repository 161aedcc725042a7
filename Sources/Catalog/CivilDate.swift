// The Gregorian date of a day count since 1970-01-01 (Howard Hinnant's civil_from_days), for the
// dates written without a formatter: the catalog's stored text (`StoredDate`) and HTTP's
// IMF-fixdate (`HTTPDate` in API).
package struct CivilDate: Equatable {
    package var year: Int64
    package var month: Int64
    package var day: Int64

    package init(daysSince1970 days: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// `value` units since 1970 as whole days and what is left of the last (floored, so that
    /// instants before 1970 fall on their own day).
    package static func days(_ value: Int64, per unitsInADay: Int64) -> (days: Int64, rest: Int64) {
        let days = value >= 0 ? value / unitsInADay : (value - unitsInADay + 1) / unitsInADay
        return (days, value - days * unitsInADay)
    }

    /// Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil).
    package static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Days in `month` (1-12) of `year`.
    package static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
