public import BulwarkCore
public import Foundation

/// An agent task (a job with parameters) and everything an agent needs to run it.
public struct TaskInfo: Hashable, Sendable {
    /// The previous point a task builds on: the VM's newest committed or verified point in the task's datastore.
    public struct Base: Hashable, Sendable {
        public var point: RecoveryPointInfo
        /// The checkpoint the point was taken with, when the catalog has it and has not found it invalid.
        public var checkpoint: CheckpointInfo?

        public init(point: RecoveryPointInfo, checkpoint: CheckpointInfo?) {
            self.point = point
            self.checkpoint = checkpoint
        }
    }

    public var job: JobInfo
    /// The host whose agent claimed it; nil while queued.
    public var host: String?
    public var vmUUID: UUID
    /// The VM's name now.
    public var vmName: String
    public var parameters: TaskParameters
    public var datastore: ResourceName
    public var datastorePath: AbsolutePath
    public var chunkSize: Int
    /// The group that asked for it; nil when the group was deleted since.
    public var group: ResourceName?
    /// The group's retention now (the one recorded in the parameters when the group is gone).
    public var retentionDays: Int
    public var cancelRequested: Bool
    public var heartbeatAt: Date?
    /// The agent called about the task since claiming it (see ``Catalog/acknowledgeTask(id:host:now:)``).
    public var acknowledged: Bool
    public var base: Base?

    public init(
        job: JobInfo, host: String?, vmUUID: UUID, vmName: String, parameters: TaskParameters,
        datastore: ResourceName, datastorePath: AbsolutePath, chunkSize: Int, group: ResourceName?,
        retentionDays: Int, cancelRequested: Bool, heartbeatAt: Date?, acknowledged: Bool = false, base: Base?
    ) {
        self.job = job
        self.host = host
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.parameters = parameters
        self.datastore = datastore
        self.datastorePath = datastorePath
        self.chunkSize = chunkSize
        self.group = group
        self.retentionDays = retentionDays
        self.cancelRequested = cancelRequested
        self.heartbeatAt = heartbeatAt
        self.acknowledged = acknowledged
        self.base = base
    }
}
