public import BulwarkCore
public import Foundation

/// One VM in an agent's inventory report.
public struct ReportedVM: Hashable, Sendable, Codable {
    /// The libvirt UUID: a VM's identity wherever it runs.
    public var uuid: UUID
    public var name: String
    public var state: VMState
    /// Whether the QEMU guest agent answered, i.e. whether a sync can freeze the guest.
    public var guestAgentAnswering: Bool
    public var disks: [VMDisk]

    public init(uuid: UUID, name: String, state: VMState, guestAgentAnswering: Bool, disks: [VMDisk]) {
        self.uuid = uuid
        self.name = name
        self.state = state
        self.guestAgentAnswering = guestAgentAnswering
        self.disks = disks
    }
}
