import Foundation

/// A datastore failure, with a message that names the path, chunk or recovery point and says how to fix it.
public struct DatastoreError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure. Open set: new codes are added as static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }

        /// The folder has no datastore marker, or the marker is unreadable.
        public static let notADatastore = Code("not-a-datastore")
        /// The marker names a format version this build does not understand.
        public static let unsupportedFormat = Code("unsupported-format")
        /// There is a datastore at the path already.
        public static let alreadyExists = Code("already-exists")
        /// The path to create a datastore at is a folder with something in it.
        public static let notEmpty = Code("not-empty")
        /// The path exists and is not a folder.
        public static let notADirectory = Code("not-a-directory")
        /// The path cannot be created or written.
        public static let notWritable = Code("not-writable")
        /// The path is inside another datastore.
        public static let nestedDatastore = Code("nested-datastore")
        /// The chunk size is not a power of two from 64 KiB to 16 MiB, or a chunk or index does not fit it.
        public static let invalidChunkSize = Code("invalid-chunk-size")
        /// No chunk file for a digest an index refers to.
        public static let chunkMissing = Code("chunk-missing")
        /// A chunk file's header, length or CRC-32 is wrong: the stored bytes changed.
        public static let chunkCorrupt = Code("chunk-corrupt")
        /// A chunk decoded cleanly but its SHA-256 is not the digest it is filed under.
        public static let digestMismatch = Code("digest-mismatch")
        /// A fixed index's header, length or checksum is wrong.
        public static let indexCorrupt = Code("index-corrupt")
        /// A manifest is not valid JSON of the expected shape, or does not match its folder.
        public static let manifestCorrupt = Code("manifest-corrupt")
        /// No complete recovery point (one with a manifest) at the given VM and point id.
        public static let pointNotFound = Code("point-not-found")
        /// A complete recovery point with that id exists already.
        public static let pointExists = Code("point-exists")
        /// A disk the manifest does not list.
        public static let diskNotFound = Code("disk-not-found")
        /// An argument breaks a rule (disk target names, index sizes).
        public static let invalidArgument = Code("invalid-argument")
        /// A file system call failed (disk full, permissions, I/O error).
        public static let io = Code("io")
        /// The datastore's file system is full (ENOSPC, EDQUOT).
        public static let noSpace = Code("no-space")
        /// The datastore's object store (an S3 bucket) could not be reached or failed: worth trying again later.
        public static let backendUnavailable = Code("backend-unavailable")
        /// The datastore's object store refused the request (credentials, permissions, a missing bucket): an
        /// administrator must fix its settings before it can work again.
        public static let backendRefused = Code("backend-refused")

        public var description: String { rawValue }
    }

    public var code: Code
    /// What went wrong, what it was about, and how to fix it.
    public var message: String
    /// The chunk the failure is about, when it is about one.
    public var digest: ChunkDigest?
    /// The error underneath, such as the `POSIXError` of a failed system call.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, digest: ChunkDigest? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.digest = digest
        self.cause = cause
    }

    public var description: String {
        cause.map { "\(message) (\($0))" } ?? message
    }

    /// An `io` error for a failed system call, from `errno`.
    package static func system(_ operation: String, _ path: String, errno number: Int32, fix: String? = nil) -> DatastoreError {
        let reason = String(cString: strerror(number))
        let full = number == ENOSPC || number == EDQUOT
        let advice =
            full
            ? "the datastore's file system is full: free space there (bulwark gc, shorter retention) or move the "
                + "datastore to a larger one; recovery points already written are intact"
            : fix ?? "check free space, permissions and the kernel log for I/O errors"
        return DatastoreError(
            full ? .noSpace : .io, "could not \(operation) \(path): \(reason); \(advice)",
            cause: POSIXErrorCode(rawValue: number).map { POSIXError($0) })
    }
}
