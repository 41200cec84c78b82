/// Which kind of sync made a recovery point. The raw values are stored in the catalog and manifests: never change
/// them.
public enum SyncKind: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Every allocated block was read and sent: the first sync of a VM, or one with no usable checkpoint and no
    /// earlier index.
    case full
    /// Only blocks the checkpoint's dirty bitmap marks were read.
    case incremental
    /// Every allocated block was read and hashed, and only chunks that differ from the previous index were sent:
    /// the replacement for an incremental whose checkpoint cannot be trusted.
    case consistencyCheck = "consistency-check"
    /// A scheduled sync right before a recovery point (MABS's express full backup).
    case expressFull = "express-full"
    /// Read by bulwarkd from disk images an admin exported (replica creation manual); the VM's next sync is a
    /// consistency check against it.
    case seed

    public var description: String { rawValue }
}
