public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// The disk space a group's points use and what its policy will need: MABS's "disk allocation" estimate.
    ///
    /// Per member: the data (its first point's stored bytes, or its disks' capacity before it has one) plus its
    /// daily change (stored bytes of its later points over the last 7 days, per day) times the retention range.
    /// With less than a day of history the change is assumed at ``GroupUsage/assumedDailyChange`` of the data.
    public func groupUsage(named name: ResourceName, now: Date = Date()) async throws -> GroupUsage {
        try await read { db in
            let group = try Self.groupRecord(db, named: name)
            let policy = try Self.decodePolicy(group)
            let stored = try Int64.fetchOne(
                db, sql: "SELECT COALESCE(SUM(stored_bytes), 0) FROM recovery_point WHERE group_id = ?",
                arguments: [group.id]) ?? 0
            var usage = GroupUsage(storedBytes: stored, estimatedBytes: 0, dailyChangeBytes: 0, measured: true)
            let members = try String.fetchAll(db, sql: "SELECT vm_uuid FROM group_member WHERE group_id = ?", arguments: [group.id])
            for vm in members {
                let points = try Row.fetchAll(
                    db,
                    sql: "SELECT created_at, stored_bytes FROM recovery_point WHERE vm_uuid = ? AND group_id = ? ORDER BY created_at",
                    arguments: [vm, group.id])
                let data: Int64
                var daily: Double?
                if let first = points.first {
                    data = first["stored_bytes"]
                    let windowStart = now.addingTimeInterval(-7 * 86_400)
                    let recent = points.dropFirst().filter { ($0["created_at"] as Date) >= windowStart }
                    if let oldest = recent.first, let newest = recent.last {
                        let previous = points[points.count - recent.count - 1]["created_at"] as Date
                        let span = (newest["created_at"] as Date).timeIntervalSince(min(previous, oldest["created_at"]))
                        if span >= 86_400 {
                            daily = Double(recent.reduce(Int64(0)) { $0 + ($1["stored_bytes"] as Int64) }) / (span / 86_400)
                        }
                    }
                } else {
                    data = try Int64.fetchOne(
                        db, sql: "SELECT COALESCE(SUM(capacity_bytes), 0) FROM vm_disk WHERE vm_uuid = ?", arguments: [vm]) ?? 0
                }
                let change = Int64(daily ?? Double(data) * GroupUsage.assumedDailyChange)
                if daily == nil { usage.measured = false }
                usage.dailyChangeBytes += change
                usage.estimatedBytes += data + change * Int64(policy.retentionDays)
            }
            return usage
        }
    }
}

/// What ``Catalog/groupUsage(named:now:)`` found.
public struct GroupUsage: Hashable, Sendable, Codable {
    /// The share of the data a member changes per day, assumed when its history is shorter than a day.
    public static let assumedDailyChange = 0.05

    /// Bytes of chunk files the group's points stored (a chunk shared with another point counts for the one that
    /// stored it first).
    public var storedBytes: Int64
    /// The space the policy will need once every member has a full retention range of points.
    public var estimatedBytes: Int64
    /// The daily change the estimate counts, over all members.
    public var dailyChangeBytes: Int64
    /// False when some member's change was assumed rather than measured.
    public var measured: Bool
}
