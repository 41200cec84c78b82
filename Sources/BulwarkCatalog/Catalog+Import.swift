public import BulwarkCore
public import Foundation
import GRDB

/// What ``Catalog/importProtection(from:into:now:)`` took from a catalog copy.
public struct ProtectionImport: Hashable, Sendable {
    /// Groups made again, with their policies, keeping their points in the attached datastore.
    public var groups: [ResourceName] = []
    /// VMs made members of those groups again.
    public var members = 0
    /// Points given back their group and their retention as the copy recorded it.
    public var points = 0
    /// Groups left out, each with why (a group of that name exists here already).
    public var skipped: [String] = []

    public init() {}
}

extension Catalog {
    /// Takes from `copy` (a catalog copy found in an attached datastore) what the datastore's manifests cannot say:
    /// the protection groups that kept their points there, with their policies and members, each point's group,
    /// and its retention as last set.
    ///
    /// The copy's datastore is the one that shares the most points with `datastore`. A group whose name is taken
    /// here is left out. Nothing is done for a read-only datastore but the retention: no group may keep points
    /// there. One transaction.
    public func importProtection(from copy: Catalog, into datastore: ResourceName, now: Date = Date()) async throws
        -> ProtectionImport
    {
        struct CopiedPoint: Sendable {
            var id: String
            var datastoreID: Int64
            var group: Int64?
            var retainUntil: Date
        }
        struct CopiedGroup: Sendable {
            var id: Int64
            var name: String
            var datastoreID: Int64
            var policy: String
            var members: [String]
        }
        let (points, groups) = try await copy.read { db -> ([CopiedPoint], [CopiedGroup]) in
            let points = try Row.fetchAll(db, sql: "SELECT id, datastore_id, group_id, retain_until FROM recovery_point")
                .map { CopiedPoint(id: $0[0], datastoreID: $0[1], group: $0[2], retainUntil: $0[3]) }
            let groups = try Row.fetchAll(db, sql: "SELECT id, name, datastore_id, policy FROM protection_group").map {
                row in
                CopiedGroup(
                    id: row[0], name: row[1], datastoreID: row[2], policy: row[3],
                    members: try String.fetchAll(
                        db, sql: "SELECT vm_uuid FROM group_member WHERE group_id = ?", arguments: [row[0] as Int64]))
            }
            return (points, groups)
        }
        return try await write { db in
            var result = ProtectionImport()
            let target = try Self.datastoreRecord(db, named: datastore)
            let ours = Set(
                try String.fetchAll(
                    db, sql: "SELECT id FROM recovery_point WHERE datastore_id = ?", arguments: [target.id]))
            var shared: [Int64: Int] = [:]
            for point in points where ours.contains(point.id) { shared[point.datastoreID, default: 0] += 1 }
            guard let source = shared.max(by: { $0.value < $1.value })?.key else { return result }

            var groupIDs: [Int64: Int64] = [:]
            if !target.readOnly {
                for group in groups where group.datastoreID == source {
                    // The copy comes from the datastore, which this server did not write: its names and policies
                    // pass the same rules as an admin's before they enter the catalog.
                    let name: ResourceName
                    let policy: String
                    do {
                        name = try ResourceName(group.name, field: "group name")
                        let decoded = try JSONDecoder().decode(ProtectionPolicy.self, from: Data(group.policy.utf8))
                        try decoded.validate()
                        policy = try Self.encode(decoded)
                    } catch {
                        result.skipped.append("group \(group.name.prefix(64)): not taken from the copy (\(error))")
                        continue
                    }
                    let taken = try Bool.fetchOne(
                        db, sql: "SELECT EXISTS (SELECT 1 FROM protection_group WHERE name = ?)", arguments: [group.name])
                    if taken == true {
                        result.skipped.append("group \(group.name): a group of that name exists here already")
                        continue
                    }
                    var record = GroupRecord(
                        name: name.rawValue, datastoreId: target.id!, policy: policy, createdAt: now, modifiedAt: now)
                    try record.insert(db)
                    groupIDs[group.id] = record.id!
                    result.groups.append(name)
                    for vm in group.members {
                        // A VM the datastore has no point of, or one in another group here, stays as it is.
                        try db.execute(
                            sql: """
                                INSERT INTO group_member (vm_uuid, group_id, added_at)
                                SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM vm WHERE uuid = ?)
                                ON CONFLICT (vm_uuid) DO NOTHING
                                """,
                            arguments: [vm, record.id!, now, vm])
                        result.members += db.changesCount
                    }
                }
            }
            for point in points where point.datastoreID == source && ours.contains(point.id) {
                try db.execute(
                    sql: "UPDATE recovery_point SET group_id = ?, retain_until = ? WHERE id = ?",
                    arguments: [point.group.flatMap { groupIDs[$0] }, point.retainUntil, point.id])
                result.points += 1
            }
            return result
        }
    }
}
