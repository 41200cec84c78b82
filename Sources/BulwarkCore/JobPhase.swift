/// The phases of a sync job, in order. Raw values are stored and sent: never change them.
public enum JobPhase: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The agent validates the last checkpoint and starts a backup job with a new one.
    case snapshot
    /// Changed (or, for a consistency check, all allocated) blocks are read, hashed and uploaded.
    case transfer
    /// The server checks new chunks, writes indexes and the manifest, then commits the recovery point.
    case commit

    public var description: String { rawValue }
}
