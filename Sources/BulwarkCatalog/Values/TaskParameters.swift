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

        public var description: String { rawValue }
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

    public init(
        command: Command, expressFull: Bool = false, retainUntil: Date? = nil, quiesce: QuiesceMode = .auto,
        retentionDays: Int = ProtectionPolicy.default.retentionDays, initialReplica: Bool = false
    ) {
        self.command = command
        self.expressFull = expressFull
        self.retainUntil = retainUntil
        self.quiesce = quiesce
        self.retentionDays = retentionDays
        self.initialReplica = initialReplica ? true : nil
    }

    /// The job kind listings show for a task with these parameters.
    public var jobKind: JobKind {
        switch command {
        case .consistencyCheck: .consistencyCheck
        case .sync: initialReplica == true ? .initialReplica : expressFull ? .expressFull : .sync
        }
    }
}
