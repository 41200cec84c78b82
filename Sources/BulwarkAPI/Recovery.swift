public import Foundation

/// `POST /v1/recover`: bring a VM back from a recovery point, to where it was (`to: original`) or as a new VM on
/// any enrolled host (`toHost` and `path`).
public struct RecoveryRequest: Codable, Sendable, Hashable {
    /// `HOST/NAME`, a UUID, or a unique `NAME`: the VM the point belongs to.
    public var vm: String
    /// A point id of the VM, or `latest`.
    public var point: String
    /// `original`: stop the VM, write its disks back, restore its definition. Leave out for a new VM.
    public var to: String?
    /// The enrolled host a new VM is written on.
    public var toHost: String?
    /// The folder on that host its disks are written to (absolute).
    public var path: String?
    /// The new VM's name; default `NAME-restored`.
    public var name: String?
    /// `qcow2` (default) or `raw`.
    public var format: String?
    /// Start the new VM once it is defined. (A VM recovered to its original place is started when it was running.)
    public var start: Bool?
    /// `RATE[@HH:MM-HH:MM]`: the most bytes a second the restore moves, always or inside a daily window.
    public var throttle: String?
    /// Where the job's result is posted as JSON when it ends.
    public var notify: String?
    /// Seconds a running VM gets to shut down before it is stopped hard (original place only; default 120).
    public var shutdownTimeout: Int?

    public init(
        vm: String, point: String, to: String? = nil, toHost: String? = nil, path: String? = nil, name: String? = nil,
        format: String? = nil, start: Bool? = nil, throttle: String? = nil, notify: String? = nil,
        shutdownTimeout: Int? = nil
    ) {
        self.vm = vm
        self.point = point
        self.to = to
        self.toHost = toHost
        self.path = path
        self.name = name
        self.format = format
        self.start = start
        self.throttle = throttle
        self.notify = notify
        self.shutdownTimeout = shutdownTimeout
    }
}

/// What a restore task writes and where: the point's disks (each index at `GET …/point/{target}`, each chunk at
/// `GET …/chunks/{digest}`) and its domain definition.
public struct AgentRestore: Codable, Sendable, Hashable {
    public struct Disk: Codable, Sendable, Hashable {
        public var target: String
        public var logicalSize: UInt64
        /// Bytes of its chunks that are not zeros: what the target must have room for.
        public var dataBytes: UInt64
        public init(target: String, logicalSize: UInt64, dataBytes: UInt64) {
            self.target = target
            self.logicalSize = logicalSize
            self.dataBytes = dataBytes
        }
    }

    public var pointID: String
    public var pointCreatedAt: Date
    /// The domain as it was defined when the point was made.
    public var domainXML: String
    public var disks: [Disk]
    /// `original` or `alternate`.
    public var mode: String
    /// Alternate: the folder, the new name and UUID, the disk format, and whether to start the new VM.
    public var folder: String?
    public var name: String?
    public var uuid: UUID?
    public var format: String?
    public var start: Bool
    /// Original: seconds the running VM gets to shut down before it is stopped hard.
    public var shutdownTimeout: Int
    /// `RATE[@HH:MM-HH:MM]`, or nil.
    public var throttle: String?

    public init(
        pointID: String, pointCreatedAt: Date, domainXML: String, disks: [Disk], mode: String, folder: String?,
        name: String?, uuid: UUID?, format: String?, start: Bool, shutdownTimeout: Int, throttle: String?
    ) {
        self.pointID = pointID
        self.pointCreatedAt = pointCreatedAt
        self.domainXML = domainXML
        self.disks = disks
        self.mode = mode
        self.folder = folder
        self.name = name
        self.uuid = uuid
        self.format = format
        self.start = start
        self.shutdownTimeout = shutdownTimeout
        self.throttle = throttle
    }
}

/// `POST …/complete`: a restore task that succeeded.
public struct AgentTaskComplete: Codable, Sendable, Hashable {
    /// What was done, for the job's log and error-free end: the VM defined, where its disks are.
    public var summary: String
    /// Bytes fetched from the server.
    public var bytesReceived: Int64
    public init(summary: String, bytesReceived: Int64) {
        self.summary = summary
        self.bytesReceived = bytesReceived
    }
}
