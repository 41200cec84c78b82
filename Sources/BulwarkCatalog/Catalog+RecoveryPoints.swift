public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Commits a recovery point, and the checkpoint its sync made, in one transaction: the commit point of a sync.
    @discardableResult
    public func insertRecoveryPoint(
        _ point: NewRecoveryPoint, checkpoint: NewCheckpoint? = nil
    ) async throws -> RecoveryPointInfo {
        try await write { db in
            let info = try Self.insertRecoveryPoint(db, point)
            if let checkpoint { try Self.recordCheckpoint(db, checkpoint) }
            return info
        }
    }

    /// Inserts many points in one transaction (a catalog rebuilt from a datastore, imports), all or none.
    public func insertRecoveryPoints(_ points: [NewRecoveryPoint]) async throws {
        try await write { db in
            var datastores: [String: Int64] = [:]
            var groups: [String: Int64] = [:]
            for point in points {
                _ = try Self.insertRecoveryPoint(db, point, datastores: &datastores, groups: &groups, returning: false)
            }
        }
    }

    /// A VM's points, newest first; at most `limit` when given.
    public func recoveryPoints(vm uuid: UUID, limit: Int? = nil) async throws -> [RecoveryPointInfo] {
        try await read { db in
            _ = try Self.vmRecord(db, uuid: uuid)
            return try Self.fetchPoints(
                db, where: "rp.vm_uuid = ?", arguments: [uuid.catalogText],
                order: "rp.created_at DESC, rp.id DESC", limit: limit)
        }
    }

    /// Points whose retention ended before `date`, oldest first: what pruning deletes.
    public func expiredRecoveryPoints(before date: Date) async throws -> [RecoveryPointInfo] {
        try await read { db in
            try Self.fetchPoints(
                db, where: "rp.retain_until < ?", arguments: [date], order: "rp.retain_until, rp.id", limit: nil)
        }
    }

    /// The point with `id`.
    public func recoveryPoint(id: RecoveryPointID) async throws -> RecoveryPointInfo {
        try await read { db in try Self.fetchPoint(db, id: id) }
    }

    /// The VMs that have recovery points the group made, members or not (a VM removed from the group keeps the
    /// points it had).
    public func vmsWithPoints(group name: ResourceName) async throws -> [UUID] {
        try await read { db in
            let group = try Self.groupRecord(db, named: name)
            return try String.fetchAll(
                db, sql: "SELECT DISTINCT vm_uuid FROM recovery_point WHERE group_id = ? ORDER BY vm_uuid",
                arguments: [group.id]
            ).map { try UUID(stored: $0) }
        }
    }

    /// Records what a verify run found about a point.
    @discardableResult
    public func updateRecoveryPointState(
        id: RecoveryPointID, to state: RecoveryPointState
    ) async throws -> RecoveryPointInfo {
        try await write { db in
            try db.execute(
                sql: "UPDATE recovery_point SET state = ? WHERE id = ?", arguments: [state.rawValue, id.description])
            return try Self.fetchPoint(db, id: id)
        }
    }

    /// Forgets a point (`--delete-data`); refused with `conflict` while a lease or a restore reads it, in the same
    /// transaction as the delete. The caller deletes the point's files after the row: a point the catalog lists is
    /// always whole.
    public func deleteRecoveryPoint(id: RecoveryPointID) async throws {
        try await deleteRecoveryPoints(ids: [id])
    }

    /// Forgets all of `ids` or none: refused whole with `conflict`, naming the first point a lease or a restore
    /// reads, checked in the transaction that deletes.
    @discardableResult
    public func deleteRecoveryPoints(ids: [RecoveryPointID]) async throws -> [RecoveryPointInfo] {
        try await write { db in
            var deleted: [RecoveryPointInfo] = []
            for id in ids {
                let point = try Self.fetchPoint(db, id: id)
                if let reason = try Self.pointInUse(db, id.description) {
                    throw CatalogError(
                        .conflict,
                        "recovery point \(id) of VM \(point.vmName) cannot be deleted now: \(reason); nothing was deleted, try again when it ends")
                }
                try db.execute(sql: "DELETE FROM recovery_point WHERE id = ?", arguments: [id.description])
                deleted.append(point)
            }
            return deleted
        }
    }

    // MARK: - Checkpoints

    /// Records a checkpoint as the VM's current one; the one before becomes superseded.
    public func recordCheckpoint(_ checkpoint: NewCheckpoint) async throws {
        try await write { db in try Self.recordCheckpoint(db, checkpoint) }
    }

    /// A VM's recorded checkpoints, newest first.
    public func checkpoints(vm uuid: UUID) async throws -> [CheckpointInfo] {
        try await read { db in
            _ = try Self.vmRecord(db, uuid: uuid)
            return try CheckpointRecord.fetchAll(
                db, sql: "SELECT * FROM checkpoint WHERE vm_uuid = ? ORDER BY created_at DESC, id DESC",
                arguments: [uuid.catalogText]
            ).map { try $0.info() }
        }
    }

    /// The checkpoint the next incremental sync of the VM starts from, if it has a valid one.
    public func currentCheckpoint(vm uuid: UUID) async throws -> CheckpointInfo? {
        try await read { db in
            try CheckpointRecord.fetchOne(
                db, sql: "SELECT * FROM checkpoint WHERE vm_uuid = ? AND state = ?",
                arguments: [uuid.catalogText, CheckpointState.current.rawValue]
            ).map { try $0.info() }
        }
    }

    /// Records what the agent found about a checkpoint (e.g. `invalid` when its bitmap is inconsistent).
    public func updateCheckpointState(vm uuid: UUID, name: String, to state: CheckpointState) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE checkpoint SET state = ? WHERE vm_uuid = ? AND name = ?",
                arguments: [state.rawValue, uuid.catalogText, name])
            guard db.changesCount == 1 else {
                throw CatalogError(.notFound, "VM \(uuid.catalogText) has no recorded checkpoint named '\(name)'")
            }
        }
    }

    /// Forgets a checkpoint the agent deleted from the domain.
    public func deleteCheckpoint(vm uuid: UUID, name: String) async throws {
        try await write { db in
            try db.execute(
                sql: "DELETE FROM checkpoint WHERE vm_uuid = ? AND name = ?", arguments: [uuid.catalogText, name])
            guard db.changesCount == 1 else {
                throw CatalogError(.notFound, "VM \(uuid.catalogText) has no recorded checkpoint named '\(name)'")
            }
        }
    }

    // MARK: - Internals

    static func recordCheckpoint(_ db: Database, _ checkpoint: NewCheckpoint) throws {
        let uuid = checkpoint.vmUUID.catalogText
        _ = try vmRecord(db, uuid: checkpoint.vmUUID)
        if try CheckpointRecord.filter(Column("vm_uuid") == uuid && Column("name") == checkpoint.name).fetchCount(db)
            > 0
        {
            throw CatalogError(
                .alreadyExists,
                "VM \(uuid) already has a checkpoint named '\(checkpoint.name)'; checkpoint names must be new for each sync")
        }
        try db.execute(
            sql: "UPDATE checkpoint SET state = ? WHERE vm_uuid = ? AND state = ?",
            arguments: [CheckpointState.superseded.rawValue, uuid, CheckpointState.current.rawValue])
        try CheckpointRecord(
            vmUuid: uuid, name: checkpoint.name, host: checkpoint.host, xml: checkpoint.xml,
            state: CheckpointState.current.rawValue, createdAt: checkpoint.createdAt
        ).insert(db)
    }

    static func insertRecoveryPoint(_ db: Database, _ point: NewRecoveryPoint) throws -> RecoveryPointInfo {
        var datastores: [String: Int64] = [:]
        var groups: [String: Int64] = [:]
        return try insertRecoveryPoint(db, point, datastores: &datastores, groups: &groups, returning: true)!
    }

    /// Inserts one point; `datastores` and `groups` cache ids by name across a batch.
    private static func insertRecoveryPoint(
        _ db: Database, _ point: NewRecoveryPoint, datastores: inout [String: Int64], groups: inout [String: Int64],
        returning: Bool
    ) throws -> RecoveryPointInfo? {
        guard point.logicalBytes >= 0, point.storedBytes >= 0, point.transferredBytes >= 0 else {
            throw CatalogError(.invalid, "recovery point \(point.id) has a negative size; sizes are byte counts")
        }
        let uuid = point.vmUUID.catalogText
        let vmKnown = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM vm WHERE uuid = ?)"), arguments: [uuid])
        guard vmKnown == true else {
            throw CatalogError(.notFound, "recovery point \(point.id) names VM \(uuid), which the catalog does not know")
        }
        let datastoreKey = point.datastore.rawValue.lowercased()
        let datastoreID: Int64
        if let cached = datastores[datastoreKey] {
            datastoreID = cached
        } else {
            datastoreID = try datastoreRecord(db, named: point.datastore).id!
            datastores[datastoreKey] = datastoreID
        }
        var groupID: Int64?
        if let group = point.group {
            let key = group.rawValue.lowercased()
            if let cached = groups[key] {
                groupID = cached
            } else {
                groupID = try groupRecord(db, named: group).id!
                groups[key] = groupID
            }
        }
        let taken = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM recovery_point WHERE id = ?)"),
            arguments: [point.id.description])
        if taken == true {
            throw CatalogError(.alreadyExists, "recovery point \(point.id) is already in the catalog")
        }
        // A plain cached statement rather than the record's Codable encoding: batches insert thousands. The disk
        // paths are the VM's as its host reports them now, which is where the point's data was read from: a later
        // report of another path is a storage migration (see `scheduleCandidates`).
        try db.cachedStatement(
            sql: """
                INSERT INTO recovery_point (id, vm_uuid, group_id, datastore_id, created_at, sync_kind, consistency,
                    logical_bytes, stored_bytes, transferred_bytes, state, retain_until, checkpoint_name, disk_paths)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    (SELECT json_group_object(target, path) FROM vm_disk WHERE vm_uuid = ? AND path IS NOT NULL))
                """
        ).execute(arguments: [
            point.id.description, uuid, groupID, datastoreID, point.createdAt, point.syncKind.rawValue,
            point.consistency.rawValue, point.logicalBytes, point.storedBytes, point.transferredBytes,
            point.state.rawValue, point.retainUntil, point.checkpointName, uuid,
        ])
        return returning ? try fetchPoint(db, id: point.id) : nil
    }

    static func fetchPoint(_ db: Database, id: RecoveryPointID) throws -> RecoveryPointInfo {
        guard let point = try fetchPoints(
            db, where: "rp.id = ?", arguments: [id.description], order: "rp.id", limit: nil
        ).first else {
            throw CatalogError(.notFound, "no recovery point has id \(id); `bulwark points VM` lists a VM's points")
        }
        return point
    }

    static func fetchPoints(
        _ db: Database, where condition: String, arguments: StatementArguments, order: String, limit: Int?
    ) throws -> [RecoveryPointInfo] {
        // `bulwark points VM` lists thousands of rows: columns are read by position, and names and UUIDs that
        // repeat on every row are parsed once.
        let rows = try Row.fetchCursor(
            db,
            sql: """
                SELECT rp.id, rp.vm_uuid, vm.name, pg.name, ds.name, rp.created_at, rp.sync_kind, rp.consistency,
                       rp.logical_bytes, rp.stored_bytes, rp.transferred_bytes, rp.state, rp.retain_until,
                       rp.checkpoint_name
                FROM recovery_point rp
                JOIN vm ON vm.uuid = rp.vm_uuid
                JOIN datastore ds ON ds.id = rp.datastore_id
                LEFT JOIN protection_group pg ON pg.id = rp.group_id
                WHERE \(condition)
                ORDER BY \(order)
                \(limit.map { "LIMIT \(max(0, $0))" } ?? "")
                """,
            arguments: arguments)
        var names: [String: ResourceName] = [:]
        var vms: [String: UUID] = [:]
        func resourceName(_ text: String) throws -> ResourceName {
            if let known = names[text] { return known }
            let name = try ResourceName(stored: text)
            names[text] = name
            return name
        }
        var points: [RecoveryPointInfo] = []
        while let row = try rows.next() {
            let vmText: String = row[1]
            let vm = try vms[vmText] ?? UUID(stored: vmText)
            vms[vmText] = vm
            let group: String? = row[3]
            points.append(RecoveryPointInfo(
                id: try RecoveryPointID(uuid: UUID(stored: row[0])), vmUUID: vm, vmName: row[2],
                group: try group.map(resourceName), datastore: try resourceName(row[4]), createdAt: row[5],
                syncKind: try stored(row[6], as: SyncKind.self), consistency: try stored(row[7], as: Consistency.self),
                logicalBytes: row[8], storedBytes: row[9], transferredBytes: row[10],
                state: try stored(row[11], as: RecoveryPointState.self), retainUntil: row[12], checkpointName: row[13]))
        }
        return points
    }
}

extension CheckpointRecord {
    func info() throws -> CheckpointInfo {
        CheckpointInfo(
            vmUUID: try UUID(stored: vmUuid), name: name, host: host, xml: xml,
            state: try stored(state, as: CheckpointState.self), createdAt: createdAt)
    }
}
