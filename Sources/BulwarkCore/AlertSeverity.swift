/// How urgent an alert is. Raw values are stored and sent: never change them.
public enum AlertSeverity: String, Hashable, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// Worth knowing; nothing is at risk.
    case information
    /// Protection is degraded, e.g. a point is crash-consistent although the policy asked to quiesce when possible.
    case warning
    /// Protection has failed, e.g. a sync failed or a recovery point is damaged.
    case critical

    public static func < (lhs: AlertSeverity, rhs: AlertSeverity) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public var description: String { rawValue }
}
