/// A wall-clock time of day, `HH:MM`, in the server's local time zone (as MABS schedules are).
public struct TimeOfDay: ParsableValue, Comparable {
    public static let field = "time"

    public let hour: Int
    public let minute: Int

    public init(hour: Int, minute: Int) throws(ValidationError) {
        guard (0...23).contains(hour), (0...59).contains(minute) else {
            throw ValidationError(
                field: Self.field, value: "\(hour):\(minute)", rule: "hour must be 0–23 and minute 0–59",
                fix: "write the time as HH:MM, e.g. 20:00")
        }
        self.hour = hour
        self.minute = minute
    }

    /// Accepts `H:MM` and `HH:MM` (24-hour clock).
    public init(parsing text: String) throws(ValidationError) {
        func fail(_ rule: String) -> ValidationError {
            ValidationError(field: Self.field, value: text, rule: rule, fix: "write the time as HH:MM, e.g. 20:00")
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...2).contains(parts[0].count), parts[1].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigitCharacter) }),
            let hour = Int(parts[0]), let minute = Int(parts[1])
        else {
            throw fail("must be HH:MM on a 24-hour clock")
        }
        guard hour <= 23 else { throw fail("hour must be 00–23") }
        guard minute <= 59 else { throw fail("minute must be 00–59") }
        self.hour = hour
        self.minute = minute
    }

    /// Minutes since midnight.
    public var minutesSinceMidnight: Int { hour * 60 + minute }

    public var description: String { "\(hour < 10 ? "0" : "")\(hour):\(minute < 10 ? "0" : "")\(minute)" }

    public static func < (lhs: TimeOfDay, rhs: TimeOfDay) -> Bool { lhs.minutesSinceMidnight < rhs.minutesSinceMidnight }

    /// Parses `HH:MM[,HH:MM...]` into sorted times; `field` names the option in errors.
    public static func parseList(_ text: String, field: String) throws(ValidationError) -> [TimeOfDay] {
        try BulwarkCore.parseList(
            text, field: field, of: TimeOfDay.self, fix: "list times as HH:MM[,HH:MM...], e.g. 08:00,20:00"
        ).sorted()
    }
}

extension Character {
    var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
}
