public import BulwarkCore
public import Foundation

/// Which jobs `bulwark jobs` lists.
public struct JobFilter: Hashable, Sendable {
    /// Only jobs that have not finished (queued or running).
    public var activeOnly: Bool
    public var vmUUID: UUID?
    /// Only jobs of this protection group.
    public var group: ResourceName?
    /// Only jobs in one of these states.
    public var states: Set<JobState>?
    /// At most this many, newest first.
    public var limit: Int?

    public init(
        activeOnly: Bool = false, vmUUID: UUID? = nil, group: ResourceName? = nil, states: Set<JobState>? = nil,
        limit: Int? = nil
    ) {
        self.activeOnly = activeOnly
        self.vmUUID = vmUUID
        self.group = group
        self.states = states
        self.limit = limit
    }
}
