public import Foundation

/// `POST /v1/datastores`: a new datastore.
public struct DatastoreCreateRequest: Codable, Sendable, Hashable {
    /// Where an S3 datastore keeps its objects.
    public struct S3: Codable, Sendable, Hashable {
        /// `http://` or `https://` host and port of the gateway (path-style addressing).
        public var endpoint: String
        public var bucket: String
        /// Default `us-east-1`, which Ceph RGW and MinIO accept whatever their zone is called.
        public var region: String?
        /// Put before every key (`site-a/`), so that several datastores can share a bucket.
        public var prefix: String?
        /// A file on the server, of mode 0600, with the keys: `access_key = ...` and `secret_key = ...` lines.
        public var credentialsFile: String
        /// A PEM file on the server of the CA that signed the gateway's certificate; default: the system's CAs.
        public var caFile: String?
        /// How much chunk data the local cache keeps, such as `20G`; default: all of it.
        public var cacheSize: String?

        public init(
            endpoint: String, bucket: String, region: String? = nil, prefix: String? = nil, credentialsFile: String,
            caFile: String? = nil, cacheSize: String? = nil
        ) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.region = region
            self.prefix = prefix
            self.credentialsFile = credentialsFile
            self.caFile = caFile
            self.cacheSize = cacheSize
        }
    }

    /// 2–50 characters: a letter first, then letters, digits and hyphens.
    public var name: String
    /// An absolute path: a missing or empty folder, not inside another datastore. For an S3 datastore, the folder
    /// of its local cache (default: under the server's data directory).
    public var path: String?
    /// A power of two from 64K to 16M, such as `4M` (default 4 MiB).
    public var chunkSize: String?
    /// Set for a datastore whose durable copy is an S3 bucket.
    public var s3: S3?
    /// Attach only: for restores only, while another server still writes to the datastore.
    public var readOnly: Bool?

    public init(name: String, path: String?, chunkSize: String? = nil, s3: S3? = nil, readOnly: Bool? = nil) {
        self.name = name
        self.path = path
        self.chunkSize = chunkSize
        self.s3 = s3
        self.readOnly = readOnly
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

    /// Where an S3 datastore's objects are, and what the bucket holds when the server could ask it.
    public struct S3: Codable, Sendable, Hashable {
        public var endpoint: String
        public var bucket: String
        public var region: String
        public var prefix: String
        /// How much chunk data the local cache keeps; nil: all of it.
        public var cacheSize: UInt64?
        /// Whether the gateway answered a listing of the datastore's objects just now.
        public var reachable: Bool?
        public var objects: Int?
        public var bytes: UInt64?

        public init(
            endpoint: String, bucket: String, region: String, prefix: String, cacheSize: UInt64?, reachable: Bool? = nil,
            objects: Int? = nil, bytes: UInt64? = nil
        ) {
            self.endpoint = endpoint
            self.bucket = bucket
            self.region = region
            self.prefix = prefix
            self.cacheSize = cacheSize
            self.reachable = reachable
            self.objects = objects
            self.bytes = bytes
        }
    }

    public var name: String
    /// `local` (the folder is the datastore) or `s3` (the folder is the cache of a bucket).
    public var backend: String
    /// Attached for restores only: no group, retention, GC or quarantine touches it.
    public var readOnly: Bool
    public var path: String
    public var chunkSize: Int
    public var createdAt: Date
    public var groups: [String]
    /// Usage read from the datastore; nil in listings, and when the datastore cannot be read (then `problem` says why).
    public var usage: Usage?
    public var s3: S3?
    /// When the newest copy of the catalog in the datastore was taken (show only).
    public var catalogCopy: Date?
    public var problem: String?

    public init(
        name: String, path: String, chunkSize: Int, createdAt: Date, groups: [String], usage: Usage? = nil,
        s3: S3? = nil, readOnly: Bool = false, problem: String? = nil
    ) {
        self.name = name
        self.readOnly = readOnly
        self.backend = s3 == nil ? "local" : "s3"
        self.s3 = s3
        self.path = path
        self.chunkSize = chunkSize
        self.createdAt = createdAt
        self.groups = groups
        self.usage = usage
        self.problem = problem
    }
}

/// `POST /v1/datastores/attach`: what a datastore another server wrote brought into the catalog.
public struct DatastoreAttachResult: Codable, Sendable, Hashable {
    public var datastore: DatastoreView
    /// VMs its points belong to (those the catalog did not know were added without a host).
    public var vms: Int
    public var points: Int
    /// Points left out, each with the reason (a manifest that does not read).
    public var damaged: [String]
    /// Protection groups made again from the newest catalog copy in the datastore, with their policies and members.
    public var groups: [String]
    /// What else the attach has to say (a catalog copy that did not read, a group whose name was taken).
    public var notes: [String]

    public init(
        datastore: DatastoreView, vms: Int, points: Int, damaged: [String], groups: [String] = [], notes: [String] = []
    ) {
        self.datastore = datastore
        self.vms = vms
        self.points = points
        self.damaged = damaged
        self.groups = groups
        self.notes = notes
    }
}
