public import Foundation

/// What an inventory report changed.
public struct InventoryChange: Hashable, Sendable {
    /// VMs the catalog did not know on this host before (new, or moved here from another host).
    public var arrived: [UUID]
    /// VMs the host no longer reports that were unprotected and had no points: forgotten.
    public var forgotten: [UUID]
    /// VMs the host no longer reports that are protected or have points: kept, with no host, state `missing`.
    public var missing: [UUID]
    /// VMs the host reports that another host holds: recorded as claims, not moved.
    public var claimed: [UUID] = []

    public init(arrived: [UUID] = [], forgotten: [UUID] = [], missing: [UUID] = []) {
        self.arrived = arrived
        self.forgotten = forgotten
        self.missing = missing
    }
}
