public import Foundation

/// Which jobs `bulwark jobs` lists.
public struct JobFilter: Hashable, Sendable {
    /// Only jobs that have not finished (queued or running).
    public var activeOnly: Bool
    public var vmUUID: UUID?
    /// At most this many, newest first.
    public var limit: Int?

    public init(activeOnly: Bool = false, vmUUID: UUID? = nil, limit: Int? = nil) {
        self.activeOnly = activeOnly
        self.vmUUID = vmUUID
        self.limit = limit
    }
}
