public import BulwarkCore
public import Foundation

/// A recovery point to commit: its data is in the datastore, checked, and its manifest written.
public struct NewRecoveryPoint: Hashable, Sendable {
    public var id: RecoveryPointID
    public var vmUUID: UUID
    /// The group that protected the VM when the point was made; nil for a point made outside any group.
    public var group: ResourceName?
    public var datastore: ResourceName
    public var createdAt: Date
    public var syncKind: SyncKind
    public var consistency: Consistency
    /// The size of all disks the point restores.
    public var logicalBytes: Int64
    /// Bytes of new chunks this point added to the datastore (after deduplication and compression).
    public var storedBytes: Int64
    /// Bytes the agent sent for this point.
    public var transferredBytes: Int64
    public var state: RecoveryPointState
    public var retainUntil: Date
    /// The checkpoint the sync made, which the next incremental starts from.
    public var checkpointName: String?

    public init(
        id: RecoveryPointID = .generate(), vmUUID: UUID, group: ResourceName?, datastore: ResourceName,
        createdAt: Date, syncKind: SyncKind, consistency: Consistency, logicalBytes: Int64, storedBytes: Int64,
        transferredBytes: Int64, state: RecoveryPointState = .committed, retainUntil: Date,
        checkpointName: String? = nil
    ) {
        self.id = id
        self.vmUUID = vmUUID
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
