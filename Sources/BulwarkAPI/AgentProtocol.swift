public import BulwarkCore
public import Foundation

// The agent side of the API, under `/v1/agent/`: every call is mutual TLS with the certificate the agent got at
// enrollment, and the server knows the calling host from that certificate alone. An agent sees and touches only
// the VMs its host reports.
//
// One sync, on the wire:
//   GET  /v1/agent/tasks/next?wait=S&running=ID,ID   long poll; 200 AgentTask, or 204 when nothing came within S
//   GET  /v1/agent/tasks/{id}/base/{target}           the previous point's index of one disk (FixedIndex bytes)
//   POST /v1/agent/tasks/{id}/status                  AgentTaskStatus → AgentTaskControl (cancel requested?)
//   POST /v1/agent/tasks/{id}/chunks/query            ChunkQuery → ChunkQueryResult (what the datastore lacks)
//   PUT  /v1/agent/tasks/{id}/chunks/{digest}         one encoded chunk file (application/octet-stream)
//   POST /v1/agent/tasks/{id}/commit                  AgentCommit → AgentCommitResult
//   POST /v1/agent/tasks/{id}/finish                  AgentTaskFinish (failed or cancelled; commit ends a success)
//   POST /v1/agent/inventory                          AgentInventoryReport → AgentInventoryResult
//   GET  /v1/agent/ping                               AgentPing (for `bulwark-agent doctor`; changes nothing)

/// `GET /v1/agent/ping`: the server knows the calling agent.
public struct AgentPing: Codable, Sendable, Hashable {
    /// The host the agent's certificate names.
    public var host: String
    public var serverTime: Date
    public init(host: String, serverTime: Date) {
        self.host = host
        self.serverTime = serverTime
    }
}

/// `POST /v1/agent/inventory`: every VM the host has, replacing the last report.
public struct AgentInventoryReport: Codable, Sendable, Hashable {
    /// One VM of the host.
    public struct VM: Codable, Sendable, Hashable {
        public var uuid: UUID
        public var name: String
        /// `running`, `shut-off`, `paused`, … (``VMState`` raw values).
        public var state: String
        public var guestAgentAnswering: Bool
        public var disks: [VMView.Disk]

        public init(uuid: UUID, name: String, state: String, guestAgentAnswering: Bool, disks: [VMView.Disk]) {
            self.uuid = uuid
            self.name = name
            self.state = state
            self.guestAgentAnswering = guestAgentAnswering
            self.disks = disks
        }
    }

    public var vms: [VM]
    public init(vms: [VM]) { self.vms = vms }
}

/// What an inventory report changed in the catalog.
public struct AgentInventoryResult: Codable, Sendable, Hashable {
    public var added: Int
    public var updated: Int
    public var removed: Int
    public init(added: Int, updated: Int, removed: Int) {
        self.added = added
        self.updated = updated
        self.removed = removed
    }
}

/// A task for an agent: one job of the server, run on the agent's host.
public struct AgentTask: Codable, Sendable, Hashable {
    /// What the agent is asked to do.
    public enum Command: String, Codable, Sendable, Hashable {
        /// Sync the VM: incremental when its checkpoint can be trusted, a consistency check when it cannot, full
        /// when there is no earlier point.
        case sync
        /// Read every allocated block and compare with the previous point, whatever the checkpoint says.
        case consistencyCheck = "consistency-check"
        /// Write a recovery point's disks back (`restore` says where) and define its domain.
        case restore
    }

    /// The previous recovery point of the VM in the task's datastore: what unchanged chunks are carried over from
    /// and what a consistency check compares with.
    public struct Base: Codable, Sendable, Hashable {
        public var pointID: String
        /// The disks the point holds, with their sizes; each index is at `GET …/base/{target}`.
        public var disks: [BaseDisk]
        /// The checkpoint the point was taken with, as the catalog recorded it; nil when it had none (a point of a
        /// shut-off VM, or of raw disks).
        public var checkpoint: CheckpointRecord?

        public init(pointID: String, disks: [BaseDisk], checkpoint: CheckpointRecord?) {
            self.pointID = pointID
            self.disks = disks
            self.checkpoint = checkpoint
        }
    }

    /// One disk of the base point.
    public struct BaseDisk: Codable, Sendable, Hashable {
        public var target: String
        public var logicalSize: UInt64
        public init(target: String, logicalSize: UInt64) {
            self.target = target
            self.logicalSize = logicalSize
        }
    }

    /// A libvirt checkpoint as the catalog recorded it.
    public struct CheckpointRecord: Codable, Sendable, Hashable {
        public var name: String
        /// The host it was made on: on another host it must be redefined from `xml` before it can be trusted.
        public var host: String
        public var xml: String
        public init(name: String, host: String, xml: String) {
            self.name = name
            self.host = host
            self.xml = xml
        }
    }

    /// The job id; every later call about the task names it.
    public var id: String
    public var command: Command
    public var vmUUID: UUID
    /// The VM's name when the job was made, for messages.
    public var vmName: String
    /// When the job was asked for.
    public var requestedAt: Date
    /// When the agent may start: not before this time.
    public var startAt: Date
    /// The datastore's chunk size: indexes and chunks are cut at it.
    public var chunkSize: Int
    public var quiesce: QuiesceMode
    /// The point is an express full backup (a sync just before a scheduled recovery point).
    public var expressFull: Bool
    public var base: Base?
    /// What a `restore` task writes, and where.
    public var restore: AgentRestore?

    public init(
        id: String, command: Command, vmUUID: UUID, vmName: String, requestedAt: Date, startAt: Date, chunkSize: Int,
        quiesce: QuiesceMode, expressFull: Bool, base: Base?, restore: AgentRestore? = nil
    ) {
        self.id = id
        self.command = command
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.requestedAt = requestedAt
        self.startAt = startAt
        self.chunkSize = chunkSize
        self.quiesce = quiesce
        self.expressFull = expressFull
        self.base = base
        self.restore = restore
    }
}

/// `POST …/status`: where a task is, and what it logged since the last report.
public struct AgentTaskStatus: Codable, Sendable, Hashable {
    /// A log line of the task: the same shape as a job's.
    public typealias LogLine = JobView.LogLine

    public var phase: JobPhase?
    public var progress: JobProgress?
    public var log: [LogLine]

    public init(phase: JobPhase? = nil, progress: JobProgress? = nil, log: [LogLine] = []) {
        self.phase = phase
        self.progress = progress
        self.log = log
    }
}

/// How far a sync is, in bytes.
public struct JobProgress: Codable, Sendable, Hashable {
    /// Bytes the sync will read (allocated and, for an incremental, changed), once known.
    public var bytesTotal: Int64
    /// Bytes read and hashed so far.
    public var bytesScanned: Int64
    /// Bytes of chunk data sent to the server so far.
    public var bytesSent: Int64

    public init(bytesTotal: Int64, bytesScanned: Int64, bytesSent: Int64) {
        self.bytesTotal = bytesTotal
        self.bytesScanned = bytesScanned
        self.bytesSent = bytesSent
    }

    /// 0 to 1.
    public var fraction: Double {
        bytesTotal > 0 ? min(1, max(0, Double(bytesScanned) / Double(bytesTotal))) : 0
    }
}

/// The server's answer to a status report.
public struct AgentTaskControl: Codable, Sendable, Hashable {
    /// An admin cancelled the job: stop, clean up, and finish it as `cancelled`.
    public var cancelRequested: Bool
    public init(cancelRequested: Bool) { self.cancelRequested = cancelRequested }
}

/// `POST …/chunks/query`: which of these chunks does the datastore lack?
public struct ChunkQuery: Codable, Sendable, Hashable {
    /// SHA-256 digests in hex; at most 4096 per query.
    public var digests: [String]
    public init(digests: [String]) { self.digests = digests }
}

/// The chunks of a query the agent must upload.
public struct ChunkQueryResult: Codable, Sendable, Hashable {
    public var missing: [String]
    public init(missing: [String]) { self.missing = missing }
}

/// `POST …/commit`: the indexes of a finished sync. The server checks that every chunk they name is in the
/// datastore, writes the indexes and the manifest, and only then records the point and the checkpoint.
public struct AgentCommit: Codable, Sendable, Hashable {
    /// One disk: its index as `FixedIndex` file bytes, base64.
    public struct Disk: Codable, Sendable, Hashable {
        public var target: String
        public var index: Data
        public init(target: String, index: Data) {
            self.target = target
            self.index = index
        }
    }

    public var syncKind: SyncKind
    public var consistency: Consistency
    /// The domain definition at the time of the sync, for recovery.
    public var domainXML: String
    public var disks: [Disk]
    /// The checkpoint the sync made (name and XML, for redefining it elsewhere); nil when it made none.
    public var checkpoint: AgentTask.CheckpointRecord?
    /// Chunk bytes sent for this point.
    public var transferredBytes: Int64
    /// Why change tracking was not trusted, when a sync ran as a consistency check on its own (not at an admin's
    /// request): the server raises an informational alert with it.
    public var consistencyCheckReason: String?

    public init(
        syncKind: SyncKind, consistency: Consistency, domainXML: String, disks: [Disk],
        checkpoint: AgentTask.CheckpointRecord?, transferredBytes: Int64, consistencyCheckReason: String? = nil
    ) {
        self.consistencyCheckReason = consistencyCheckReason
        self.syncKind = syncKind
        self.consistency = consistency
        self.domainXML = domainXML
        self.disks = disks
        self.checkpoint = checkpoint
        self.transferredBytes = transferredBytes
    }
}

/// The committed point.
public struct AgentCommitResult: Codable, Sendable, Hashable {
    /// The error code (409) of a commit refused because a chunk it names is gone from the datastore: a failure that
    /// may pass, since a new try of the sync uploads the chunk again.
    public static let chunkMissingCode = "chunk-missing"

    public var pointID: String
    public init(pointID: String) { self.pointID = pointID }
}

/// `POST …/finish`: a task that ends without a commit.
public struct AgentTaskFinish: Codable, Sendable, Hashable {
    /// `failed` or `cancelled`.
    public var state: JobState
    public var error: String?
    /// The failure may pass (the server, libvirtd or the NBD export was lost): the server tries the task again
    /// under its retry policy. Absent: not transient.
    public var transient: Bool?
    public init(state: JobState, error: String?, transient: Bool? = nil) {
        self.state = state
        self.error = error
        self.transient = transient
    }
}

/// `POST /v1/backup`: a sync of one VM now.
public struct BackupRequest: Codable, Sendable, Hashable {
    /// `HOST/NAME`, a UUID, or a unique NAME.
    public var vm: String
    public var expressFull: Bool
    /// Keep the point until this date, whatever the group's retention says.
    public var retainUntil: Date?
    public init(vm: String, expressFull: Bool = false, retainUntil: Date? = nil) {
        self.vm = vm
        self.expressFull = expressFull
        self.retainUntil = retainUntil
    }

    /// `expressFull` may be left out (false).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        vm = try container.decode(String.self, forKey: .vm)
        expressFull = try container.decodeIfPresent(Bool.self, forKey: .expressFull) ?? false
        retainUntil = try container.decodeIfPresent(Date.self, forKey: .retainUntil)
    }
}

/// `POST /v1/check`: a consistency check of one VM or of every member of a group.
public struct CheckRequest: Codable, Sendable, Hashable {
    public var vm: String?
    public var group: String?
    public init(vm: String? = nil, group: String? = nil) {
        self.vm = vm
        self.group = group
    }
}

/// `POST /v1/agent/certificate`: a certificate for a new key of the calling host, asked for before the current one
/// expires; the answer is an ``EnrollmentResponse`` and the old certificate stops working at once.
public struct AgentCertificateRenewal: Codable, Sendable, Hashable {
    /// A PEM certificate signing request for the new key.
    public var csr: String
    public init(csr: String) { self.csr = csr }
}
