public import Foundation

/// `POST /v1/datastores`: a new datastore.
public struct DatastoreCreateRequest: Codable, Sendable, Hashable {
    /// 2–50 characters: a letter first, then letters, digits and hyphens.
    public var name: String
    /// An absolute path: a missing or empty folder, not inside another datastore.
    public var path: String
    /// A power of two from 64K to 16M, such as `4M` (default 4 MiB).
    public var chunkSize: String?

    public init(name: String, path: String, chunkSize: String? = nil) {
        self.name = name
        self.path = path
        self.chunkSize = chunkSize
    }
}

/// A datastore, with its usage when the server could read it.
public struct DatastoreView: Codable, Sendable, Hashable {
    /// How much a datastore holds and how well deduplication and compression do.
    public struct Usage: Codable, Sendable, Hashable {
        public var recoveryPoints: Int
        /// What the points would take as plain copies.
        public var logicalBytes: UInt64
        /// The size of the chunk files on disk.
        public var storedBytes: UInt64
        public var chunks: Int
        public var dedupRatio: Double
        public var compressionRatio: Double
        /// Bytes free on the datastore's file system.
        public var freeBytes: UInt64?

        public init(
            recoveryPoints: Int, logicalBytes: UInt64, storedBytes: UInt64, chunks: Int, dedupRatio: Double,
            compressionRatio: Double, freeBytes: UInt64?
        ) {
            self.recoveryPoints = recoveryPoints
            self.logicalBytes = logicalBytes
            self.storedBytes = storedBytes
            self.chunks = chunks
            self.dedupRatio = dedupRatio
            self.compressionRatio = compressionRatio
            self.freeBytes = freeBytes
        }
    }

    public var name: String
    public var path: String
    public var chunkSize: Int
    public var createdAt: Date
    public var groups: [String]
    /// Usage read from the datastore; nil in listings, and when the datastore cannot be read (then `problem` says why).
    public var usage: Usage?
    public var problem: String?

    public init(
        name: String, path: String, chunkSize: Int, createdAt: Date, groups: [String], usage: Usage? = nil,
        problem: String? = nil
    ) {
        self.name = name
        self.path = path
        self.chunkSize = chunkSize
        self.createdAt = createdAt
        self.groups = groups
        self.usage = usage
        self.problem = problem
    }
}
