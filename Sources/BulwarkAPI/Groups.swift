public import BulwarkCore
public import Foundation

/// `POST /v1/groups`: a new protection group.
public struct GroupCreateRequest: Codable, Sendable, Hashable {
    public var name: String
    public var datastore: String
    /// Policy options as typed on the command line; missing ones take the defaults.
    public var policy: ProtectionPolicy.Options

    public init(name: String, datastore: String, policy: ProtectionPolicy.Options = .init()) {
        self.name = name
        self.datastore = datastore
        self.policy = policy
    }
}

/// `PATCH /v1/groups/{name}`: policy options to change; missing ones stay as they are.
public struct GroupModifyRequest: Codable, Sendable, Hashable {
    public var policy: ProtectionPolicy.Options
    public init(policy: ProtectionPolicy.Options) { self.policy = policy }
}

/// `POST /v1/groups/{name}/members` and `.../members/remove`: VMs as `HOST/NAME`, UUID or unique `NAME`.
public struct GroupMembersRequest: Codable, Sendable, Hashable {
    public var vms: [String]
    /// With remove: also delete the VMs' recovery points of this group.
    public var deleteData: Bool?

    public init(vms: [String], deleteData: Bool? = nil) {
        self.vms = vms
        self.deleteData = deleteData
    }
}

/// A protection group: its datastore, policy and members.
public struct GroupView: Codable, Sendable, Hashable {
    /// Disk space: used by the group's points, and needed by its policy (an estimate).
    public struct Usage: Codable, Sendable, Hashable {
        public var storedBytes: Int64
        public var estimatedBytes: Int64
        public var dailyChangeBytes: Int64
        /// False when the daily change of some member was assumed (less than a day of history).
        public var measured: Bool

        public init(storedBytes: Int64, estimatedBytes: Int64, dailyChangeBytes: Int64, measured: Bool) {
            self.storedBytes = storedBytes
            self.estimatedBytes = estimatedBytes
            self.dailyChangeBytes = dailyChangeBytes
            self.measured = measured
        }
    }

    /// One protected VM.
    public struct Member: Codable, Sendable, Hashable {
        public var uuid: UUID
        public var name: String
        public var host: String?
        public var addedAt: Date

        public init(uuid: UUID, name: String, host: String?, addedAt: Date) {
            self.uuid = uuid
            self.name = name
            self.host = host
            self.addedAt = addedAt
        }
    }

    public var name: String
    public var datastore: String
    public var policy: ProtectionPolicy
    public var createdAt: Date
    public var modifiedAt: Date
    public var members: [Member]
    /// Recovery points deleted by this request (with `--delete-data`).
    public var deletedPoints: Int?
    /// `GET /v1/groups/{name}` only: the space the group's points use and the space its policy will need.
    public var usage: Usage?
    /// The initial replicas adding members queued (`POST /v1/groups/{name}/members`), by the group's replica creation.
    public var initialReplicas: [JobView]?

    public init(
        name: String, datastore: String, policy: ProtectionPolicy, createdAt: Date, modifiedAt: Date,
        members: [Member], deletedPoints: Int? = nil
    ) {
        self.name = name
        self.datastore = datastore
        self.policy = policy
        self.createdAt = createdAt
        self.modifiedAt = modifiedAt
        self.members = members
        self.deletedPoints = deletedPoints
    }
}
