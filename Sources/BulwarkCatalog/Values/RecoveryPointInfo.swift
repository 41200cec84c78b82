public import BulwarkCore
public import Foundation

/// A committed recovery point.
public struct RecoveryPointInfo: Hashable, Sendable, Codable {
    public var id: RecoveryPointID
    public var vmUUID: UUID
    public var vmName: String
    /// The group that made it; nil when made outside a group or when the group was deleted since.
    public var group: ResourceName?
    public var datastore: ResourceName
    public var createdAt: Date
    public var syncKind: SyncKind
    public var consistency: Consistency
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var transferredBytes: Int64
    public var state: RecoveryPointState
    public var retainUntil: Date
    public var checkpointName: String?

    public init(
        id: RecoveryPointID, vmUUID: UUID, vmName: String, group: ResourceName?, datastore: ResourceName,
        createdAt: Date, syncKind: SyncKind, consistency: Consistency, logicalBytes: Int64, storedBytes: Int64,
        transferredBytes: Int64, state: RecoveryPointState, retainUntil: Date, checkpointName: String?
    ) {
        self.id = id
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.group = group
        self.datastore = datastore
        self.createdAt = createdAt
        self.syncKind = syncKind
        self.consistency = consistency
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.transferredBytes = transferredBytes
        self.state = state
        self.retainUntil = retainUntil
        self.checkpointName = checkpointName
    }
}
