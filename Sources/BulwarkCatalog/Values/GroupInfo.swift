public import BulwarkCore
public import Foundation

/// A protection group: its datastore, its policy and its members.
public struct GroupInfo: Hashable, Sendable, Codable {
    public var name: ResourceName
    public var datastore: ResourceName
    public var policy: ProtectionPolicy
    public var createdAt: Date
    public var modifiedAt: Date
    /// Members by host, then name.
    public var members: [GroupMember]

    public init(
        name: ResourceName, datastore: ResourceName, policy: ProtectionPolicy, createdAt: Date, modifiedAt: Date,
        members: [GroupMember]
    ) {
        self.name = name
        self.datastore = datastore
        self.policy = policy
        self.createdAt = createdAt
        self.modifiedAt = modifiedAt
        self.members = members
    }
}
