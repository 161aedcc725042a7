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
}
