/// The level of a job's log line. Raw values are stored and sent: never change them.
public enum JobLogLevel: String, Hashable, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    case debug
    case info
    case warning
    case error

    public static func < (lhs: JobLogLevel, rhs: JobLogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public var description: String { rawValue }
}
