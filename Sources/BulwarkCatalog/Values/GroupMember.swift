public import Foundation

/// A VM in a protection group (a data source, in MABS's words).
public struct GroupMember: Hashable, Sendable, Codable {
    public var vmUUID: UUID
    public var vmName: String
    public var host: String?
    public var addedAt: Date

    public init(vmUUID: UUID, vmName: String, host: String?, addedAt: Date) {
        self.vmUUID = vmUUID
        self.vmName = vmName
        self.host = host
        self.addedAt = addedAt
    }
}
