public import BulwarkCore
public import Foundation

/// A job to create, in state `queued`.
public struct NewJob: Hashable, Sendable {
    public var id: JobID
    public var kind: JobKind
    /// What the job is about, for listings that outlive the VM or group (`kvm1/web1`, `datastore main`).
    public var subject: String
    public var vmUUID: UUID?
    public var group: ResourceName?
    public var datastore: ResourceName?
    public var createdAt: Date

    public init(
        id: JobID = .generate(), kind: JobKind, subject: String, vmUUID: UUID? = nil, group: ResourceName? = nil,
        datastore: ResourceName? = nil, createdAt: Date = Date()
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.vmUUID = vmUUID
        self.group = group
        self.datastore = datastore
        self.createdAt = createdAt
    }
}
