/// A length of time as admins type it: a whole number and one unit, `30s`, `30m`, `24h`, `7d` or `2w`.
public struct TimeSpan: ParsableValue, Comparable {
    public static let field = "duration"

    public let seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    public init(parsing text: String) throws(ValidationError) {
        try self.init(parsing: text, field: Self.field)
    }

    /// Parses `text`; `field` names the option in errors (`--expires`).
    public init(parsing text: String, field: String) throws(ValidationError) {
        let fix = "write a whole number and a unit: s, m, h, d or w, e.g. 30m, 24h, 7d"
        let digits = text.prefix(while: \.isASCIIDigitCharacter)
        let unit = text.dropFirst(digits.count)
        let multipliers: [Substring: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800]
        guard !digits.isEmpty, let number = Int64(digits), let multiplier = multipliers[unit] else {
            throw ValidationError(field: field, value: text, rule: "must be a number followed by s, m, h, d or w", fix: fix)
        }
        guard number > 0 else {
            throw ValidationError(field: field, value: text, rule: "must be longer than zero", fix: fix)
        }
        let (seconds, overflow) = number.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { throw ValidationError(field: field, value: text, rule: "is too long", fix: fix) }
        self.seconds = seconds
    }

    /// The largest unit that divides the span exactly, e.g. `7d`, `90m`.
    public var description: String {
        for (unit, size) in [("w", Int64(604_800)), ("d", 86_400), ("h", 3600), ("m", 60)]
        where seconds != 0 && seconds % size == 0 {
            return "\(seconds / size)\(unit)"
        }
        return "\(seconds)s"
    }

    public static func < (lhs: TimeSpan, rhs: TimeSpan) -> Bool { lhs.seconds < rhs.seconds }
}
