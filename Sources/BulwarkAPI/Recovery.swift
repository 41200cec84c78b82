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
    /// Item-level: files and folders to copy out, as `bulwark browse` names them (`/vdb1/etc/hosts`).
    public var items: [String]?
    /// Item-level: whole disks to copy out as images (`vda`), in `format`.
    public var disks: [String]?
    /// Item-level: the folder on the server they are copied into.
    public var toFolder: String?

    public init(
        vm: String, point: String, to: String? = nil, toHost: String? = nil, path: String? = nil, name: String? = nil,
        format: String? = nil, start: Bool? = nil, throttle: String? = nil, notify: String? = nil,
        shutdownTimeout: Int? = nil, items: [String]? = nil, disks: [String]? = nil, toFolder: String? = nil
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
        self.items = items
        self.disks = disks
        self.toFolder = toFolder
    }
}

/// `GET /v1/browse`: one folder of a recovery point's guest file systems.
public struct BrowseView: Codable, Sendable, Hashable {
    public struct Entry: Codable, Sendable, Hashable {
        public var name: String
        /// `file`, `directory`, `symlink`, `device`, `fifo`, `socket`, or `filesystem` (in `/`).
        public var kind: String
        public var size: UInt64
        /// Permission bits, octal text (`0644`).
        public var mode: String
        public var modifiedAt: Date?
        public var target: String?
        public var fileSystem: String?
        public var label: String?
        public init(
            name: String, kind: String, size: UInt64, mode: String, modifiedAt: Date?, target: String?,
            fileSystem: String?, label: String?
        ) {
            self.name = name
            self.kind = kind
            self.size = size
            self.mode = mode
            self.modifiedAt = modifiedAt
            self.target = target
            self.fileSystem = fileSystem
            self.label = label
        }
    }

    public var vm: UUID
    public var point: String
    public var path: String
    public var entries: [Entry]

    public init(vm: UUID, point: String, path: String, entries: [Entry]) {
        self.vm = vm
        self.point = point
        self.path = path
        self.entries = entries
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
    /// Mode `items`: the files and folders to copy into `folder`, as `bulwark browse` names them.
    public var items: [String]?

    public init(
        pointID: String, pointCreatedAt: Date, domainXML: String, disks: [Disk], mode: String, folder: String?,
        name: String?, uuid: UUID?, format: String?, start: Bool, shutdownTimeout: Int, throttle: String?,
        items: [String]? = nil
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
        self.items = items
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
