public import Foundation

/// A date and wall-clock time without a time zone, `YYYY-MM-DDTHH:MM` (ISO 8601), read in the server's local time
/// zone like every other schedule time.
public struct LocalDateTime: ParsableValue, Comparable {
    public static let field = "date and time"

    public let year: Int
    public let month: Int
    public let day: Int
    public let time: TimeOfDay

    public init(year: Int, month: Int, day: Int, time: TimeOfDay) throws(ValidationError) {
        let text = Self.format(year: year, month: month, day: day, time: time)
        try Self.validate(year: year, month: month, day: day, text: text)
        self.year = year
        self.month = month
        self.day = day
        self.time = time
    }

    public init(parsing text: String) throws(ValidationError) {
        let parts = text.split(separator: "T", omittingEmptySubsequences: false)
        let date = parts.first.map { $0.split(separator: "-", omittingEmptySubsequences: false) } ?? []
        guard parts.count == 2, date.count == 3, date[0].count == 4, date[1].count == 2, date[2].count == 2,
            date.allSatisfy({ $0.allSatisfy(\.isASCIIDigitCharacter) }),
            let year = Int(date[0]), let month = Int(date[1]), let day = Int(date[2])
        else {
            throw ValidationError(
                field: Self.field, value: text, rule: "must be YYYY-MM-DDTHH:MM",
                fix: "write it as ISO 8601 without seconds or zone, e.g. 2026-11-24T02:00")
        }
        let time: TimeOfDay
        do {
            time = try TimeOfDay(parsing: String(parts[1]))
        } catch {
            throw ValidationError(field: Self.field, value: text, rule: error.rule, fix: error.fix)
        }
        try Self.validate(year: year, month: month, day: day, text: text)
        self.year = year
        self.month = month
        self.day = day
        self.time = time
    }

    /// The first moment at or after `date` whose wall-clock time in `calendar`'s time zone is `time`.
    public static func next(_ time: TimeOfDay, after date: Date, in calendar: Calendar) -> LocalDateTime {
        var components = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        let nowMinutes = (components.hour ?? 0) * 60 + (components.minute ?? 0)
        if time.minutesSinceMidnight < nowMinutes,
            let tomorrow = calendar.date(byAdding: .day, value: 1, to: date)
        {
            components = calendar.dateComponents([.year, .month, .day], from: tomorrow)
        }
        // Calendar components are always valid dates, so this cannot fail.
        return try! LocalDateTime(
            year: components.year ?? 1970, month: components.month ?? 1, day: components.day ?? 1, time: time)
    }

    /// The moment this wall-clock time names in `calendar`'s time zone.
    public func date(in calendar: Calendar) -> Date? {
        calendar.date(
            from: DateComponents(year: year, month: month, day: day, hour: time.hour, minute: time.minute))
    }

    public var description: String { Self.format(year: year, month: month, day: day, time: time) }

    public static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        (lhs.year, lhs.month, lhs.day, lhs.time.minutesSinceMidnight)
            < (rhs.year, rhs.month, rhs.day, rhs.time.minutesSinceMidnight)
    }

    private static func format(year: Int, month: Int, day: Int, time: TimeOfDay) -> String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(time)"
    }

    private static func validate(year: Int, month: Int, day: Int, text: String) throws(ValidationError) {
        let fix = "write a real calendar date, e.g. 2026-11-24T02:00"
        guard (1970...9999).contains(year) else {
            throw ValidationError(field: field, value: text, rule: "year must be 1970–9999", fix: fix)
        }
        guard (1...12).contains(month) else {
            throw ValidationError(field: field, value: text, rule: "month must be 01–12", fix: fix)
        }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard (1...days).contains(day) else {
            throw ValidationError(field: field, value: text, rule: "day must be 01–\(days) in that month", fix: fix)
        }
    }
}
