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

    public init(
        id: JobID, kind: JobKind, subject: String, vmUUID: UUID?, group: ResourceName?, datastore: ResourceName?,
        state: JobState, phase: JobPhase?, createdAt: Date, startedAt: Date?, endedAt: Date?, error: String?,
        progress: Double
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
    }
}
