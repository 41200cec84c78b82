public import Foundation

/// A limit on the bytes a restore moves per second, always or only inside a daily window: `50M`, or
/// `50M@08:00-18:00` (limited during office hours, free outside them). A window may wrap midnight (`22:00-06:00`).
public struct Throttle: ParsableValue {
    public static let field = "--throttle"

    public let bytesPerSecond: Int64
    /// The limit holds from `start` until `end` each day; nil: always.
    public let window: (start: TimeOfDay, end: TimeOfDay)?

    public init(parsing text: String) throws(ValidationError) {
        let fix = "write a rate per second, optionally limited to a daily window: 50M, or 50M@08:00-18:00"
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let rate: Int64
        do {
            rate = try ByteCount.parse(String(parts[0]), field: Self.field)
        } catch {
            throw ValidationError(field: Self.field, value: text, rule: "the rate \(error.rule)", fix: fix)
        }
        guard rate >= 64 << 10 else {
            throw ValidationError(
                field: Self.field, value: text, rule: "the rate must be at least 64K a second", fix: fix)
        }
        bytesPerSecond = rate
        guard parts.count == 2 else {
            window = nil
            return
        }
        let times = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard times.count == 2 else {
            throw ValidationError(field: Self.field, value: text, rule: "the window must be HH:MM-HH:MM", fix: fix)
        }
        let start: TimeOfDay
        let end: TimeOfDay
        do {
            start = try TimeOfDay(parsing: String(times[0]))
            end = try TimeOfDay(parsing: String(times[1]))
        } catch {
            throw ValidationError(field: Self.field, value: text, rule: "the window \(error.rule)", fix: fix)
        }
        guard start != end else {
            throw ValidationError(field: Self.field, value: text, rule: "the window starts where it ends", fix: fix)
        }
        window = (start, end)
    }

    /// The limit in force at `date` in `calendar`'s time zone; nil when the window is closed (no limit).
    public func limit(at date: Date, calendar: Calendar = .current) -> Int64? {
        guard let window else { return bytesPerSecond }
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let start = window.start.hour * 60 + window.start.minute
        let end = window.end.hour * 60 + window.end.minute
        let inside = start < end ? (start <= minute && minute < end) : (minute >= start || minute < end)
        return inside ? bytesPerSecond : nil
    }

    public var description: String {
        ByteCount.format(bytesPerSecond).replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "iB", with: "")
            .replacingOccurrences(of: "B", with: "")
            + (window.map { "@\($0.start)-\($0.end)" } ?? "")
    }

    public static func == (lhs: Throttle, rhs: Throttle) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }
}
