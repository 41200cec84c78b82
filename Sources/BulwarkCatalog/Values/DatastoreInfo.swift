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

    public init(
        name: ResourceName, path: AbsolutePath, chunkSize: ChunkSize, createdAt: Date, groups: [ResourceName] = [],
        recoveryPointCount: Int = 0
    ) {
        self.name = name
        self.path = path
        self.chunkSize = chunkSize
        self.createdAt = createdAt
        self.groups = groups
        self.recoveryPointCount = recoveryPointCount
    }
}
