/// When a protection group runs consistency checks on its own.
///
/// A sync that cannot trust its checkpoint runs as a consistency check whatever this says; the policy only adds
/// checks the scheduler starts by itself.
public enum ConsistencyCheckPolicy: ParsableValue {
    /// No scheduled checks.
    case never
    /// A check as soon as a replica is found inconsistent (MABS's default).
    case ifInconsistent
    /// A check every day at the time (server local time), and also when a replica is found inconsistent.
    case daily(at: TimeOfDay)

    public static let field = "--consistency-check"

    public init(parsing text: String) throws(ValidationError) {
        let fix = "use never, if-inconsistent or daily@HH:MM, e.g. daily@02:00"
        let lowered = text.lowercased()
        switch lowered {
        case "never": self = .never
        case "if-inconsistent": self = .ifInconsistent
        default:
            guard lowered.hasPrefix("daily@") else {
                throw ValidationError(
                    field: Self.field, value: text, rule: "must be never, if-inconsistent or daily@HH:MM", fix: fix)
            }
            do {
                self = .daily(at: try TimeOfDay(parsing: String(lowered.dropFirst("daily@".count))))
            } catch {
                throw ValidationError(field: Self.field, value: text, rule: "time \(error.rule)", fix: fix)
            }
        }
    }

    public var description: String {
        switch self {
        case .never: "never"
        case .ifInconsistent: "if-inconsistent"
        case .daily(let time): "daily@\(time)"
        }
    }
}
