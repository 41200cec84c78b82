public import BulwarkCore
public import Foundation

/// A datastore as the catalog records it.
public struct DatastoreInfo: Hashable, Sendable, Codable {
    public var name: ResourceName
    /// The datastore's folder (resolved, absolute).
    public var path: AbsolutePath
    public var chunkSize: ChunkSize
    public var createdAt: Date
    /// Protection groups that keep their points here, by name.
    public var groups: [ResourceName]
    public var recoveryPointCount: Int
    /// Where the durable copy lives when the folder is only its cache; nil for a datastore that is its folder.
    public var s3: DatastoreS3Settings?
    /// Attached for restores only while another server writes to it: no group, prune, GC or quarantine touches it.
    public var readOnly: Bool

    public init(
        name: ResourceName, path: AbsolutePath, chunkSize: ChunkSize, createdAt: Date, groups: [ResourceName] = [],
        recoveryPointCount: Int = 0, s3: DatastoreS3Settings? = nil, readOnly: Bool = false
    ) {
        self.readOnly = readOnly
        self.s3 = s3
        self.name = name
        self.path = path
        self.chunkSize = chunkSize
        self.createdAt = createdAt
        self.groups = groups
        self.recoveryPointCount = recoveryPointCount
    }
}
