import Foundation

/// RFC 3339 timestamps with milliseconds in UTC, the API's one time format.
public enum Timestamp {
    /// Years 0001 to 9999, the times RFC 3339 can write and PostgreSQL can store, in seconds since 1970. Every
    /// time the API accepts is inside, so converting it to whole seconds or microseconds never overflows.
    public static let representable: Range<Double> = -62_135_596_800 ..< 253_402_300_800

    /// Unix seconds (`created[gte]=1795000000`), nil when not an integer or outside `representable`.
    public static func unixSeconds(_ text: String) -> Date? {
        guard let seconds = Int64(text), representable.contains(Double(seconds)) else { return nil }
        return Date(timeIntervalSince1970: Double(seconds))
    }

    /// Writes any date: one outside `representable` (none the API accepts) as its first or last millisecond,
    /// NaN as the first, so that no date makes the conversion to whole milliseconds trap.
    public static func rfc3339(_ date: Date) -> String {
        let first = representable.lowerBound * 1000, last = representable.upperBound * 1000 - 1
        let exact = (date.timeIntervalSince1970 * 1000).rounded(.down)
        let millis = Int64(exact.isNaN ? first : min(max(exact, first), last))
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let fraction = Int(millis - seconds * 1000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = civil(fromDays: days)
        return format(year: year, month: month, day: day, hour: secondOfDay / 3600, minute: secondOfDay / 60 % 60,
                      second: secondOfDay % 60, fraction: fraction, fractionDigits: 3)
    }

    /// `yyyy-mm-ddThh:mm:ss.` then `fraction` in `fractionDigits` digits, then `Z`, written digit by digit into the
    /// bytes it takes: a document holds many times, every row a replay writes too, and building each of them from
    /// strings was a good part of rendering one. Every field is in range and not negative; the year takes four
    /// digits, five from 10000 on.
    public static func format(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int,
                              fraction: Int, fractionDigits: Int) -> String {
        let yearDigits = year > 9999 ? 5 : 4
        return String(unsafeUninitializedCapacity: yearDigits + 16 + fractionDigits + 1) { text in
            var end = 0
            func put(_ value: Int, _ width: Int, then separator: Unicode.Scalar) {
                var value = value
                for index in stride(from: end + width - 1, through: end, by: -1) {
                    text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                text[end + width] = UInt8(ascii: separator)
                end += width + 1
            }
            put(year, yearDigits, then: "-")
            put(month, 2, then: "-")
            put(day, 2, then: "T")
            put(hour, 2, then: ":")
            put(minute, 2, then: ":")
            put(second, 2, then: ".")
            put(fraction, fractionDigits, then: "Z")
            return end
        }
    }

    /// Parses RFC 3339: `2026-11-22T04:25:38Z`, with any fraction of a second and a `Z` or `±hh:mm` offset.
    /// Also reads PostgreSQL's own output (`2026-11-22 04:25:38.123456+00`: a space, an offset in hours).
    /// Refuses days a month does not have, offsets past ±23:59 and times outside `representable`.
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        guard b.count >= 20, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32, b[13] == 58, b[16] == 58 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard b[i] >= 48 && b[i] <= 57 else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
              let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
              second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if b[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                fraction += Double(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offset = 0
        if b[index] == 90 || b[index] == 122 {
            index += 1
        } else if b[index] == 43 || b[index] == 45, index + 6 == b.count, b[index + 3] == 58,
                  let hours = number((index + 1)..<(index + 3)), let minutes = number((index + 4)..<(index + 6)),
                  hours < 24, minutes < 60 {
            offset = (b[index] == 45 ? -1 : 1) * (hours * 3600 + minutes * 60)
            index += 6
        } else if b[index] == 43 || b[index] == 45, index + 3 == b.count, let hours = number((index + 1)..<(index + 3)), hours < 24 {
            offset = (b[index] == 45 ? -1 : 1) * hours * 3600
            index += 3
        } else {
            return nil
        }
        guard index == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86_400 + hour * 3600 + minute * 60 + second - offset) + fraction
        guard representable.contains(seconds) else { return nil }
        return Date(timeIntervalSince1970: seconds)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(fromDays days: Int64) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (Int(yearOfEra + era * 400 + (month <= 2 ? 1 : 0)), Int(month), Int(day))
    }
}
