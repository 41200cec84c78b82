public import Foundation

extension ProtectionPolicy {
    /// The policy options of `bulwark group create` and `group modify`, as typed; nil leaves a setting as it is.
    public struct Options: Hashable, Sendable, Codable {
        public var retentionDays: String?
        public var syncFrequency: String?
        public var recoveryPoints: String?
        public var days: String?
        public var expressFull: String?
        public var consistencyCheck: String?
        public var replicaCreation: String?
        public var quiesce: String?

        public init(
            retentionDays: String? = nil, syncFrequency: String? = nil, recoveryPoints: String? = nil,
            days: String? = nil, expressFull: String? = nil, consistencyCheck: String? = nil,
            replicaCreation: String? = nil, quiesce: String? = nil
        ) {
            self.retentionDays = retentionDays
            self.syncFrequency = syncFrequency
            self.recoveryPoints = recoveryPoints
            self.days = days
            self.expressFull = expressFull
            self.consistencyCheck = consistencyCheck
            self.replicaCreation = replicaCreation
            self.quiesce = quiesce
        }

        /// True when no option is given.
        public var isEmpty: Bool { self == Options() }
    }

    /// This policy with `options` applied; the first invalid option is reported by its command-line name.
    ///
    /// `now` and `calendar` resolve `--replica-creation at:HH:MM` to its next occurrence. `--express-full none`
    /// turns express fulls off.
    public func applying(_ options: Options, now: Date, calendar: Calendar) throws(ValidationError) -> ProtectionPolicy {
        var policy = self
        if let text = options.retentionDays {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let days = Int(trimmed), trimmed.allSatisfy(\.isASCIIDigitCharacter) else {
                throw ValidationError(
                    field: "--retention-days", value: text, rule: "must be a whole number of days",
                    fix: "give a number from 1 to 448")
            }
            policy.retentionDays = days
        }
        if let text = options.syncFrequency {
            policy.syncFrequency = try SyncFrequency(parsing: text)
        }
        if let text = options.recoveryPoints {
            policy.recoveryPointTimes = try TimeOfDay.parseList(text, field: "--recovery-points")
        }
        if let text = options.days {
            policy.days = try Weekday.parseList(text, field: "--days")
        }
        if let text = options.expressFull {
            policy.expressFullTimes =
                text.lowercased() == "none" ? [] : try TimeOfDay.parseList(text, field: "--express-full")
        }
        if let text = options.consistencyCheck {
            policy.consistencyCheck = try ConsistencyCheckPolicy(parsing: text)
        }
        if let text = options.replicaCreation {
            policy.replicaCreation = try ReplicaCreation(parsing: text, now: now, calendar: calendar)
        }
        if let text = options.quiesce {
            policy.quiesce = try QuiesceMode(parsing: text)
        }
        try policy.validate()
        return policy
    }
}
