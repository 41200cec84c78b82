/// How a protection group protects its VMs: how long points are kept, how often the replica is synced, when
/// recovery points and express fulls are made, when consistency is checked, when the first replica is made and
/// whether guests are frozen.
///
/// The defaults follow MABS's for Hyper-V protection groups: keep 5 days, sync every 15 minutes, one recovery point
/// and one express full every day at 20:00, check consistency only when a replica is inconsistent, make the replica
/// now; guests are frozen when their agent answers.
public struct ProtectionPolicy: Hashable, Sendable, Codable {
    /// MABS's limit for disk retention.
    public static let retentionDaysRange = 1...448

    /// How many days recovery points are kept.
    public var retentionDays: Int
    public var syncFrequency: SyncFrequency
    /// When recovery points are made, sorted, at least one.
    public var recoveryPointTimes: [TimeOfDay]
    /// On which days recovery points and express fulls are made, in week order, at least one.
    public var days: [Weekday]
    /// When express full syncs run, sorted; empty for none.
    public var expressFullTimes: [TimeOfDay]
    public var consistencyCheck: ConsistencyCheckPolicy
    public var replicaCreation: ReplicaCreation
    public var quiesce: QuiesceMode

    public static let `default` = try! ProtectionPolicy()

    public init(
        retentionDays: Int = 5,
        syncFrequency: SyncFrequency = .every15Minutes,
        recoveryPointTimes: [TimeOfDay] = [try! TimeOfDay(hour: 20, minute: 0)],
        days: [Weekday] = Weekday.allCases,
        expressFullTimes: [TimeOfDay] = [try! TimeOfDay(hour: 20, minute: 0)],
        consistencyCheck: ConsistencyCheckPolicy = .ifInconsistent,
        replicaCreation: ReplicaCreation = .now,
        quiesce: QuiesceMode = .auto
    ) throws(ValidationError) {
        self.retentionDays = retentionDays
        self.syncFrequency = syncFrequency
        self.recoveryPointTimes = recoveryPointTimes.sorted()
        self.days = days.sorted()
        self.expressFullTimes = expressFullTimes.sorted()
        self.consistencyCheck = consistencyCheck
        self.replicaCreation = replicaCreation
        self.quiesce = quiesce
        try validate()
    }

    /// Checks the rules that span fields or that the field types alone cannot hold.
    public func validate() throws(ValidationError) {
        guard Self.retentionDaysRange.contains(retentionDays) else {
            throw ValidationError(
                field: "--retention-days", value: String(retentionDays), rule: "must be 1–448 days",
                fix: "choose a retention of at least 1 and at most 448 days")
        }
        guard !recoveryPointTimes.isEmpty else {
            throw ValidationError(
                field: "--recovery-points", value: "", rule: "needs at least one time",
                fix: "list times as HH:MM[,HH:MM...], e.g. 20:00")
        }
        guard Set(recoveryPointTimes).count == recoveryPointTimes.count else {
            throw ValidationError(
                field: "--recovery-points", value: recoveryPointTimes.map(\.description).joined(separator: ","),
                rule: "lists a time twice", fix: "list each time once")
        }
        guard Set(expressFullTimes).count == expressFullTimes.count else {
            throw ValidationError(
                field: "--express-full", value: expressFullTimes.map(\.description).joined(separator: ","),
                rule: "lists a time twice", fix: "list each time once")
        }
        guard !days.isEmpty, Set(days).count == days.count else {
            throw ValidationError(
                field: "--days", value: days.map(\.rawValue).joined(separator: ","),
                rule: "needs at least one day, each once", fix: "list days as mon,tue,...")
        }
    }

    private enum CodingKeys: String, CodingKey {
        case retentionDays, syncFrequency, recoveryPointTimes, days, expressFullTimes, consistencyCheck,
            replicaCreation, quiesce
    }

    /// Missing keys take their defaults, so a policy stored by an older version still reads.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let defaults = ProtectionPolicy.default
        retentionDays = try container.decodeIfPresent(Int.self, forKey: .retentionDays) ?? defaults.retentionDays
        syncFrequency =
            try container.decodeIfPresent(SyncFrequency.self, forKey: .syncFrequency) ?? defaults.syncFrequency
        recoveryPointTimes =
            try container.decodeIfPresent([TimeOfDay].self, forKey: .recoveryPointTimes)?.sorted()
            ?? defaults.recoveryPointTimes
        days = try container.decodeIfPresent([Weekday].self, forKey: .days)?.sorted() ?? defaults.days
        expressFullTimes =
            try container.decodeIfPresent([TimeOfDay].self, forKey: .expressFullTimes)?.sorted()
            ?? defaults.expressFullTimes
        consistencyCheck =
            try container.decodeIfPresent(ConsistencyCheckPolicy.self, forKey: .consistencyCheck)
            ?? defaults.consistencyCheck
        replicaCreation =
            try container.decodeIfPresent(ReplicaCreation.self, forKey: .replicaCreation) ?? defaults.replicaCreation
        quiesce = try container.decodeIfPresent(QuiesceMode.self, forKey: .quiesce) ?? defaults.quiesce
        do {
            try validate()
        } catch {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }
}
