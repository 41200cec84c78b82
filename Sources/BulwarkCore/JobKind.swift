/// What a job does. An open set: later issues add kinds (recoveries, seeding) without a catalog migration.
public struct JobKind: OpenStringValue {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A scheduled or manual sync of one VM (full, incremental or, when needed, a consistency check).
    public static let sync: JobKind = "sync"
    /// The first full copy of a VM that joined a protection group, queued by the group's replica creation.
    public static let initialReplica: JobKind = "initial-replica"
    /// A VM's initial replica read by bulwarkd from exported disk images (replica creation manual).
    public static let seed: JobKind = "seed"
    /// A sync right before a recovery point.
    public static let expressFull: JobKind = "express-full"
    /// A consistency check an admin or the policy asked for.
    public static let consistencyCheck: JobKind = "consistency-check"
    /// Reading back every chunk of a datastore and checking its digest.
    public static let verify: JobKind = "verify"
    /// Deleting chunks no live index references.
    public static let garbageCollection: JobKind = "gc"
    /// Deleting recovery points past their retention.
    public static let prune: JobKind = "prune"
    /// Restoring a VM, disks or files from a recovery point.
    public static let recovery: JobKind = "recovery"
}
