/// How often a protection group's VMs are synchronized with their replicas.
///
/// `before-recovery-point` syncs only right before each scheduled recovery point, as MABS offers for data sources
/// whose changes cannot be tracked in between.
public enum SyncFrequency: String, ParsableValue, CaseIterable {
    case every15Minutes = "15m"
    case every30Minutes = "30m"
    case hourly = "1h"
    case every2Hours = "2h"
    case every4Hours = "4h"
    case every6Hours = "6h"
    case every12Hours = "12h"
    case daily = "24h"
    case beforeRecoveryPoint = "before-recovery-point"

    public static let field = "--sync-frequency"

    public init(parsing text: String) throws(ValidationError) {
        guard let frequency = SyncFrequency(rawValue: text.lowercased()) else {
            throw ValidationError(
                field: Self.field, value: text,
                rule: "must be one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))",
                fix: "pick one of the listed frequencies")
        }
        self = frequency
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws { try self.init(textFrom: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }

    /// Seconds between syncs; nil for ``beforeRecoveryPoint``, which follows the recovery point schedule.
    public var intervalSeconds: Int? {
        switch self {
        case .every15Minutes: 15 * 60
        case .every30Minutes: 30 * 60
        case .hourly: 3600
        case .every2Hours: 2 * 3600
        case .every4Hours: 4 * 3600
        case .every6Hours: 6 * 3600
        case .every12Hours: 12 * 3600
        case .daily: 24 * 3600
        case .beforeRecoveryPoint: nil
        }
    }
}
