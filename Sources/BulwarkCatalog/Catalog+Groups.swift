public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Creates a protection group keeping its points in `datastore`.
    @discardableResult
    public func createGroup(
        name: ResourceName, datastore: ResourceName, policy: ProtectionPolicy = .default, now: Date = Date()
    ) async throws -> GroupInfo {
        try policy.validate()
        let json = try Self.encode(policy)
        return try await write { db in
            if let existing = try GroupRecord.fetchOne(
                db, sql: "SELECT * FROM protection_group WHERE name = ?", arguments: [name.rawValue])
            {
                throw CatalogError(
                    .alreadyExists, "a protection group named '\(existing.name)' already exists; choose another name")
            }
            let store = try Self.datastoreRecord(db, named: datastore)
            guard !store.readOnly else {
                throw CatalogError(
                    .conflict,
                    "datastore '\(store.name)' is attached read-only (restores only: another server writes to it); "
                        + "keep the group's points in another datastore, or attach this one again without --read-only once that server is gone")
            }
            var record = GroupRecord(
                name: name.rawValue, datastoreId: store.id!, policy: json, createdAt: now, modifiedAt: now)
            try record.insert(db)
            return try Self.groupInfo(db, record)
        }
    }

    /// Every protection group, by name.
    public func groups() async throws -> [GroupInfo] {
        try await read { db in
            try GroupRecord.fetchAll(db, sql: "SELECT * FROM protection_group ORDER BY name").map {
                try Self.groupInfo(db, $0)
            }
        }
    }

    /// The group named `name`.
    public func group(named name: ResourceName) async throws -> GroupInfo {
        try await read { db in try Self.groupInfo(db, try Self.groupRecord(db, named: name)) }
    }

    /// Replaces a group's policy.
    @discardableResult
    public func setGroupPolicy(
        named name: ResourceName, policy: ProtectionPolicy, now: Date = Date()
    ) async throws -> GroupInfo {
        try await modifyGroupPolicy(named: name, now: now) { _ in policy }
    }

    /// Changes a group's policy from its current one in one transaction, so concurrent changes do not undo each
    /// other; a ``ValidationError`` thrown by `change` becomes an `invalid` ``CatalogError``.
    @discardableResult
    public func modifyGroupPolicy(
        named name: ResourceName, now: Date = Date(),
        _ change: @escaping @Sendable (ProtectionPolicy) throws -> ProtectionPolicy
    ) async throws -> GroupInfo {
        try await write { db in
            var record = try Self.groupRecord(db, named: name)
            let policy = try change(try Self.decodePolicy(record))
            try policy.validate()
            record.policy = try Self.encode(policy)
            record.modifiedAt = now
            try record.update(db)
            return try Self.groupInfo(db, record)
        }
    }

    /// Deletes a group and its memberships. Its recovery points stay (no longer attributed to a group); deleting
    /// their data is the caller's, before this.
    @discardableResult
    public func deleteGroup(named name: ResourceName) async throws -> GroupInfo {
        try await write { db in
            let record = try Self.groupRecord(db, named: name)
            let info = try Self.groupInfo(db, record)
            try record.delete(db)
            return info
        }
    }

    /// Adds VMs to a group, all or none. A VM already in this group is left as it is; one in another group is
    /// refused, naming that group (a VM has one policy).
    @discardableResult
    public func addMembers(
        group name: ResourceName, vms references: [VMReference], now: Date = Date()
    ) async throws -> GroupInfo {
        try await write { db in
            let group = try Self.groupRecord(db, named: name)
            for reference in references {
                let vm = try Self.resolveVM(db, reference)
                if let current = vm.group {
                    if current.rawValue.lowercased() == group.name.lowercased() { continue }
                    throw CatalogError(
                        .conflict,
                        "VM \(vm.reference) is already in protection group '\(current)'; a VM belongs to one group: remove it there first (`bulwark group remove \(current) \(vm.reference)`)")
                }
                try GroupMemberRecord(vmUuid: vm.uuid.catalogText, groupId: group.id!, addedAt: now).insert(db)
            }
            return try Self.groupInfo(db, group)
        }
    }

    /// Removes VMs from a group, all or none; their recovery points stay.
    @discardableResult
    public func removeMembers(group name: ResourceName, vms references: [VMReference]) async throws -> GroupInfo {
        try await write { db in
            let group = try Self.groupRecord(db, named: name)
            for reference in references {
                let vm = try Self.resolveVM(db, reference)
                guard let current = vm.group, current.rawValue.lowercased() == group.name.lowercased() else {
                    throw CatalogError(
                        .notFound,
                        "VM \(vm.reference) is not in protection group '\(group.name)'"
                            + (vm.group.map { "; it is in '\($0)'" } ?? "; it is in no group"))
                }
                try db.execute(sql: "DELETE FROM group_member WHERE vm_uuid = ?", arguments: [vm.uuid.catalogText])
            }
            return try Self.groupInfo(db, group)
        }
    }

    static func groupInfo(_ db: Database, _ record: GroupRecord) throws -> GroupInfo {
        let datastore = try String.fetchOne(
            db, sql: "SELECT name FROM datastore WHERE id = ?", arguments: [record.datastoreId]) ?? ""
        let members = try Row.fetchAll(
            db,
            sql: """
                SELECT gm.vm_uuid, gm.added_at, vm.name, agent.host
                FROM group_member gm
                JOIN vm ON vm.uuid = gm.vm_uuid
                LEFT JOIN agent ON agent.id = vm.host_id
                WHERE gm.group_id = ?
                ORDER BY agent.host IS NULL, agent.host COLLATE NOCASE, vm.name
                """,
            arguments: [record.id]
        ).map { row in
            GroupMember(
                vmUUID: try UUID(stored: row["vm_uuid"]), vmName: row["name"], host: row["host"],
                addedAt: row["added_at"])
        }
        return GroupInfo(
            name: try ResourceName(stored: record.name), datastore: try ResourceName(stored: datastore),
            policy: try decodePolicy(record), createdAt: record.createdAt, modifiedAt: record.modifiedAt,
            members: members)
    }

    static func encode(_ policy: ProtectionPolicy) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(policy), as: UTF8.self)
    }

    static func decodePolicy(_ record: GroupRecord) throws -> ProtectionPolicy {
        do {
            return try JSONDecoder().decode(ProtectionPolicy.self, from: Data(record.policy.utf8))
        } catch {
            throw CatalogError(
                .corrupt,
                "the policy of protection group '\(record.name)' cannot be read (\(error)); set it again with `bulwark group modify`")
        }
    }
}
