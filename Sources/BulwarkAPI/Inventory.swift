public import BulwarkCore
public import Foundation

/// A virtual machine as its host's agent reported it.
public struct VMView: Codable, Sendable, Hashable {
    /// One disk.
    public struct Disk: Codable, Sendable, Hashable {
        public var target: String
        public var format: String
        public var capacityBytes: Int64
        public var path: String?

        public init(target: String, format: String, capacityBytes: Int64, path: String?) {
            self.target = target
            self.format = format
            self.capacityBytes = capacityBytes
            self.path = path
        }
    }

    public var uuid: UUID
    public var name: String
    public var host: String?
    public var state: String
    public var guestAgentAnswering: Bool
    public var lastReportedAt: Date
    public var disks: [Disk]
    public var group: String?

    public init(
        uuid: UUID, name: String, host: String?, state: String, guestAgentAnswering: Bool, lastReportedAt: Date,
        disks: [Disk], group: String?
    ) {
        self.uuid = uuid
        self.name = name
        self.host = host
        self.state = state
        self.guestAgentAnswering = guestAgentAnswering
        self.lastReportedAt = lastReportedAt
        self.disks = disks
        self.group = group
    }
}

/// A recovery point as the catalog records it.
public struct RecoveryPointView: Codable, Sendable, Hashable {
    public var id: String
    public var vm: UUID
    public var vmName: String
    public var group: String?
    public var datastore: String
    public var createdAt: Date
    public var syncKind: SyncKind
    public var consistency: Consistency
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var transferredBytes: Int64
    public var state: RecoveryPointState
    public var retainUntil: Date

    public init(
        id: String, vm: UUID, vmName: String, group: String?, datastore: String, createdAt: Date, syncKind: SyncKind,
        consistency: Consistency, logicalBytes: Int64, storedBytes: Int64, transferredBytes: Int64,
        state: RecoveryPointState, retainUntil: Date
    ) {
        self.id = id
        self.vm = vm
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
    }
}

/// The result of `POST /v1/verify` or `POST /v1/gc` for one datastore.
public struct MaintenanceReport: Codable, Sendable, Hashable {
    public var datastore: String
    /// `verify`: points checked and damaged chunks; `gc`: chunks and bytes removed.
    public var summary: String
    /// Damaged chunk digests (verify) or nothing.
    public var damagedChunks: [String]
    /// Recovery points that use a damaged chunk, as `VM-UUID/POINT-ID`.
    public var damagedPoints: [String]
    public var ok: Bool
    /// The `verify` job that recorded the run, with its log.
    public var job: String?

    public init(
        datastore: String, summary: String, damagedChunks: [String] = [], damagedPoints: [String] = [], ok: Bool,
        job: String? = nil
    ) {
        self.datastore = datastore
        self.summary = summary
        self.damagedChunks = damagedChunks
        self.damagedPoints = damagedPoints
        self.ok = ok
        self.job = job
    }
}

/// `POST /v1/vms/move`: an admin confirms that a VM another host reports is that host's now.
public struct VMMoveRequest: Codable, Sendable, Hashable {
    /// The VM: HOST/NAME, a UUID, or a unique NAME.
    public var vm: String
    /// The host that reports the VM and is to hold it.
    public var toHost: String
    public init(vm: String, toHost: String) {
        self.vm = vm
        self.toHost = toHost
    }
}
