public import Foundation

/// When a VM's first full copy (its initial replica) is made after it joins a protection group.
public enum ReplicaCreation: ParsableValue {
    /// Right away (MABS's default).
    case now
    /// Once, at a date and time (server local time), e.g. overnight for large VMs.
    case at(LocalDateTime)
    /// Not by the scheduler: an admin seeds the replica from an exported image or starts the first sync.
    case manual

    public static let field = "--replica-creation"

    private static let fix = "use now, manual or at:YYYY-MM-DDTHH:MM (at:HH:MM on the command line means its next occurrence)"

    /// Parses the stored form: `now`, `manual` or `at:YYYY-MM-DDTHH:MM`.
    public init(parsing text: String) throws(ValidationError) {
        switch try Self.parse(text, time: nil) {
        case .some(let creation): self = creation
        case .none:
            throw ValidationError(
                field: Self.field, value: text, rule: "must be now, manual or at:YYYY-MM-DDTHH:MM", fix: Self.fix)
        }
    }

    /// Parses what an admin types: the stored forms, and `at:HH:MM` for the next time the clock shows HH:MM after
    /// `now` in `calendar`'s time zone (so the stored policy always names one fixed moment).
    public init(parsing text: String, now: Date, calendar: Calendar) throws(ValidationError) {
        switch try Self.parse(text, time: (now, calendar)) {
        case .some(let creation): self = creation
        case .none:
            throw ValidationError(
                field: Self.field, value: text, rule: "must be now, manual, at:YYYY-MM-DDTHH:MM or at:HH:MM",
                fix: Self.fix)
        }
    }

    private static func parse(_ text: String, time: (Date, Calendar)?) throws(ValidationError) -> ReplicaCreation? {
        switch text.lowercased() {
        case "now": return .now
        case "manual": return .manual
        default:
            guard text.lowercased().hasPrefix("at:") else { return nil }
            let moment = String(text.dropFirst(3))
            if let (now, calendar) = time, !moment.contains("T"), !moment.contains("-") {
                do {
                    return .at(LocalDateTime.next(try TimeOfDay(parsing: moment), after: now, in: calendar))
                } catch {
                    throw ValidationError(field: field, value: text, rule: error.rule, fix: fix)
                }
            }
            do {
                return .at(try LocalDateTime(parsing: moment))
            } catch {
                throw ValidationError(field: field, value: text, rule: error.rule, fix: fix)
            }
        }
    }

    public var description: String {
        switch self {
        case .now: "now"
        case .at(let moment): "at:\(moment)"
        case .manual: "manual"
        }
    }
}
