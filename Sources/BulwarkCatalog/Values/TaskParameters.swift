public import BulwarkCore
public import Foundation

/// What an agent task is asked to do, fixed when the job is made (stored as JSON in `job.parameters`).
public struct TaskParameters: Hashable, Sendable, Codable {
    /// The agent's command.
    public enum Command: String, Hashable, Sendable, Codable, CustomStringConvertible {
        /// Incremental when the VM's checkpoint can be trusted, a consistency check when not, full without a base.
        case sync
        /// Read every allocated block and compare with the previous point, whatever the checkpoint says.
        case consistencyCheck = "consistency-check"
        /// Write a recovery point back (``TaskParameters/restore`` says where).
        case restore

        public var description: String { rawValue }
    }

    /// Where and how a restore task writes its point.
    public struct Restore: Hashable, Sendable, Codable {
        public enum Mode: String, Hashable, Sendable, Codable {
            /// Stop the VM, write its disks back in place, restore its definition, start it if it was running.
            case original
            /// A new VM (new name, UUID, MAC addresses) on `host`, its disks in `folder`.
            case alternate
            /// Files and folders (`items`) copied out of the point's guest file systems into `folder` on `host`.
            case items
        }

        public var point: RecoveryPointID
        public var mode: Mode
        /// The host whose agent writes it.
        public var host: String
        public var folder: String?
        public var name: String?
        public var uuid: UUID?
        /// `qcow2` or `raw` (alternate).
        public var format: String?
        public var start: Bool
        public var shutdownTimeout: Int
        public var throttle: Throttle?
        public var notify: URL?
        /// Item-level: paths as `bulwark browse` names them.
        public var items: [String]?

        public init(
            point: RecoveryPointID, mode: Mode, host: String, folder: String? = nil, name: String? = nil,
            uuid: UUID? = nil, format: String? = nil, start: Bool = false, shutdownTimeout: Int = 120,
            throttle: Throttle? = nil, notify: URL? = nil, items: [String]? = nil
        ) {
            self.point = point
            self.mode = mode
            self.host = host
            self.folder = folder
            self.name = name
            self.uuid = uuid
            self.format = format
            self.start = start
            self.shutdownTimeout = shutdownTimeout
            self.throttle = throttle
            self.notify = notify
            self.items = items
        }
    }

    public var command: Command
    /// The point is an express full backup.
    public var expressFull: Bool
    /// Keep the point at least until then, whatever the group's retention says.
    public var retainUntil: Date?
    /// The group's quiesce mode when the job was made.
    public var quiesce: QuiesceMode
    /// The group's retention when the job was made; used only when the group is gone by the commit.
    public var retentionDays: Int
    /// Queued because the VM joined its group (absent in tasks made before there were initial replicas).
    public var initialReplica: Bool?
    /// A restore's point and destination.
    public var restore: Restore?

    public init(
        command: Command, expressFull: Bool = false, retainUntil: Date? = nil, quiesce: QuiesceMode = .auto,
        retentionDays: Int = ProtectionPolicy.default.retentionDays, initialReplica: Bool = false,
        restore: Restore? = nil
    ) {
        self.command = command
        self.expressFull = expressFull
        self.retainUntil = retainUntil
        self.quiesce = quiesce
        self.retentionDays = retentionDays
        self.initialReplica = initialReplica ? true : nil
        self.restore = restore
    }

    /// The job kind listings show for a task with these parameters.
    public var jobKind: JobKind {
        switch command {
        case .consistencyCheck: .consistencyCheck
        case .restore: .recovery
        case .sync: initialReplica == true ? .initialReplica : expressFull ? .expressFull : .sync
        }
    }
}
