public import BulwarkCore
public import Foundation

/// A VM as the catalog knows it: the last report about it, and its protection group.
public struct VMInfo: Hashable, Sendable, Codable {
    public var uuid: UUID
    public var name: String
    /// The host that last reported it; nil when no enrolled host reports it any more.
    public var host: String?
    public var state: VMState
    public var guestAgentAnswering: Bool
    public var lastReportedAt: Date
    /// Disks in target order.
    public var disks: [VMDisk]
    /// The protection group it is a member of; nil when unprotected.
    public var group: ResourceName?

    public init(
        uuid: UUID, name: String, host: String?, state: VMState, guestAgentAnswering: Bool, lastReportedAt: Date,
        disks: [VMDisk], group: ResourceName?
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

    /// How the CLI names it: `HOST/NAME`, or the UUID when no host reports it.
    public var reference: String { host.map { "\($0)/\(name)" } ?? uuid.uuidString.lowercased() }
}
