public import BulwarkCore
public import Foundation

/// A restore to queue: a recovery point of `vmUUID` written where `restore` says, by the agent of its host.
public struct NewRecovery: Hashable, Sendable {
    public var id: JobID
    public var vmUUID: UUID
    public var restore: TaskParameters.Restore
    public var createdAt: Date

    public init(id: JobID = .generate(), vmUUID: UUID, restore: TaskParameters.Restore, createdAt: Date = Date()) {
        self.id = id
        self.vmUUID = vmUUID
        self.restore = restore
        self.createdAt = createdAt
    }
}
