/// What is known about a recovery point's data. Raw values are stored: never change them.
public enum RecoveryPointState: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Written and checked against its digests when committed, not read back since.
    case committed
    /// Every chunk was read back and matched its digest by a verify run.
    case verified
    /// At least one chunk is missing or does not match its digest; the next sync re-sends what it still has.
    case damaged

    public var description: String { rawValue }
}
