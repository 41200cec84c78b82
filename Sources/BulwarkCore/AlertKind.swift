/// What an alert is about. An open set: new kinds need no catalog migration.
public struct AlertKind: OpenStringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let syncFailed: AlertKind = "sync-failed"
    public static let replicaInconsistent: AlertKind = "replica-inconsistent"
    public static let recoveryPointDamaged: AlertKind = "recovery-point-damaged"
    public static let agentUnreachable: AlertKind = "agent-unreachable"
    public static let datastoreLowSpace: AlertKind = "datastore-low-space"
    /// A datastore's folder cannot be opened (its file system unmounted, the folder removed or replaced).
    public static let datastoreUnavailable: AlertKind = "datastore-unavailable"
    public static let crashConsistentOnly: AlertKind = "crash-consistent-only"
    /// A VM's latest job, or bulwarkd's latest prune or verify, ended with warnings.
    public static let jobWarnings: AlertKind = "job-warnings"
    /// bulwarkd's latest prune or verify failed.
    public static let jobFailed: AlertKind = "job-failed"
    /// A host's agent enrolled again with a re-enrollment token: its certificate was replaced.
    public static let agentReenrolled: AlertKind = "agent-reenrolled"
    /// A second live host reports a VM the catalog keeps with its own host: the VM did not move.
    public static let vmClaimConflict: AlertKind = "vm-claim-conflict"
    /// A datastore holds complete points the catalog does not list (a crash between a point's files and its row):
    /// they are collected once the grace period is over.
    public static let datastoreOrphanPoints: AlertKind = "datastore-orphan-points"
    /// An agent's client certificate expires within 30 days (critical within 7, or expired): re-enroll the host.
    public static let agentCertificateExpiring: AlertKind = "agent-certificate-expiring"
    /// No successful sync for twice the group's sync interval.
    public static let syncOverdue: AlertKind = "sync-overdue"
}
