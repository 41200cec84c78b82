public import BulwarkCore
public import Foundation

/// An agent task to queue for one VM: a sync or a consistency check. The VM's protection group supplies the
/// datastore, the retention and the quiesce mode.
public struct NewTask: Hashable, Sendable {
    public var id: JobID
    public var vmUUID: UUID
    public var command: TaskParameters.Command
    public var expressFull: Bool
    /// Keep the point at least until then.
    public var retainUntil: Date?
    public var createdAt: Date
    /// Not before then (nil: at once).
    public var startAt: Date?
    /// The VM's first full copy in its group, queued because it joined.
    public var initialReplica: Bool

    public init(
        id: JobID = .generate(), vmUUID: UUID, command: TaskParameters.Command, expressFull: Bool = false,
        retainUntil: Date? = nil, createdAt: Date = Date(), startAt: Date? = nil, initialReplica: Bool = false
    ) {
        self.id = id
        self.vmUUID = vmUUID
        self.command = command
        self.expressFull = expressFull
        self.retainUntil = retainUntil
        self.createdAt = createdAt
        self.startAt = startAt
        self.initialReplica = initialReplica
    }
}
