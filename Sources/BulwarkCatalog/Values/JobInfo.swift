public import BulwarkCore
public import Foundation

/// A job and where it stands.
public struct JobInfo: Hashable, Sendable, Codable {
    public var id: JobID
    public var kind: JobKind
    public var subject: String
    public var vmUUID: UUID?
    public var group: ResourceName?
    public var datastore: ResourceName?
    public var state: JobState
    public var phase: JobPhase?
    public var createdAt: Date
    public var startedAt: Date?
    public var endedAt: Date?
    /// Why it failed or what it warned about.
    public var error: String?
    /// 0 to 1.
    public var progress: Double
    /// The agent host an agent task runs (or ran) on; nil for jobs of the server and tasks not yet claimed.
    public var host: String?
    /// Bytes to read, read and sent, once the agent reported them.
    public var bytes: TaskProgress?
    /// The recovery point a successful sync committed.
    public var recoveryPointID: RecoveryPointID?
    /// An admin asked to cancel the running task; its agent has not finished it yet.
    public var cancelRequested: Bool
    /// A queued task waits until then (an initial replica at a set time); nil: at once.
    public var startAt: Date?
    /// Which try this is: 1 for the first, 2 for the first retry.
    public var attempt: Int
    /// The failed job this one tries again.
    public var retryOf: JobID?

    public init(
        id: JobID, kind: JobKind, subject: String, vmUUID: UUID?, group: ResourceName?, datastore: ResourceName?,
        state: JobState, phase: JobPhase?, createdAt: Date, startedAt: Date?, endedAt: Date?, error: String?,
        progress: Double, host: String? = nil, bytes: TaskProgress? = nil, recoveryPointID: RecoveryPointID? = nil,
        cancelRequested: Bool = false, startAt: Date? = nil, attempt: Int = 1,
        retryOf: JobID? = nil
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.vmUUID = vmUUID
        self.group = group
        self.datastore = datastore
        self.state = state
        self.phase = phase
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.error = error
        self.progress = progress
        self.host = host
        self.bytes = bytes
        self.recoveryPointID = recoveryPointID
        self.cancelRequested = cancelRequested
        self.startAt = startAt
        self.attempt = attempt
        self.retryOf = retryOf
    }
}
