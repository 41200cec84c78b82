/// A day of the week, written as its three-letter English abbreviation.
public enum Weekday: String, ParsableValue, CaseIterable, Comparable {
    case monday = "mon"
    case tuesday = "tue"
    case wednesday = "wed"
    case thursday = "thu"
    case friday = "fri"
    case saturday = "sat"
    case sunday = "sun"

    public static let field = "day"

    /// Case-insensitive: `Mon` and `mon` are the same day.
    public init(parsing text: String) throws(ValidationError) {
        guard let day = Weekday(rawValue: text.lowercased()) else {
            throw ValidationError(
                field: Self.field, value: text, rule: "must be one of mon, tue, wed, thu, fri, sat, sun",
                fix: "write days as their first three letters")
        }
        self = day
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { try self.init(textFrom: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }

    /// Foundation's numbering (`Calendar.component(.weekday, from:)`): Sunday is 1, Saturday is 7.
    public var calendarWeekday: Int {
        switch self {
        case .sunday: 1
        case .monday: 2
        case .tuesday: 3
        case .wednesday: 4
        case .thursday: 5
        case .friday: 6
        case .saturday: 7
        }
    }

    /// Monday first, as ISO 8601 orders the week.
    public static func < (lhs: Weekday, rhs: Weekday) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Parses `mon,tue,...` into days in week order; `field` names the option in errors.
    public static func parseList(_ text: String, field: String) throws(ValidationError) -> [Weekday] {
        try BulwarkCore.parseList(
            text, field: field, of: Weekday.self, fix: "list days as mon,tue,wed,thu,fri,sat,sun (any subset)"
        ).sorted()
    }
}
