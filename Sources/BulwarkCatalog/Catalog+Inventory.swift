public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Replaces what the catalog knows about `host`'s VMs with its agent's full report.
    ///
    /// A host reports only its own VMs: a VM another enrolled host holds does not move on this host's word. The
    /// report is recorded as a *claim* (`vm_claim`) and raises a `vm-claim-conflict` alert, and the VM stays with
    /// its host, which alone is given its tasks and its in-place restores. It moves when there is evidence: its
    /// host stops reporting it (a live migration ends so), at which point it follows the latest claimant at once,
    /// or an admin moves it (``moveVM(_:toHost:now:)``). A VM with no host (missing) follows the host that reports
    /// it. A VM this host no longer reports is forgotten, unless it is protected or has recovery points: then it
    /// stays, with no host and state `missing`, so its points and membership survive until it turns up elsewhere.
    @discardableResult
    public func replaceInventory(host: String, vms: [ReportedVM], now: Date = Date()) async throws -> InventoryChange {
        try Self.checkReport(vms, host: host)
        return try await write { db in
            var agent = try Self.agentRecord(db, host: host)
            agent.lastSeenAt = now
            try agent.update(db)
            return try Self.replaceInventory(db, hostID: agent.id!, vms: vms, now: now)
        }
    }

    private static func checkReport(_ vms: [ReportedVM], host: String) throws {
        var uuids = Set<UUID>()
        var names = Set<String>()
        for vm in vms {
            guard uuids.insert(vm.uuid).inserted else {
                throw CatalogError(.invalid, "the inventory of host '\(host)' lists VM \(vm.uuid.catalogText) twice")
            }
            guard !vm.name.isEmpty, !vm.name.contains("/") else {
                throw CatalogError(
                    .invalid, "the inventory of host '\(host)' has a VM named '\(vm.name)'; libvirt names are non-empty and have no '/'")
            }
            guard names.insert(vm.name).inserted else {
                throw CatalogError(.invalid, "the inventory of host '\(host)' lists the name '\(vm.name)' twice")
            }
            var targets = Set<String>()
            for disk in vm.disks {
                guard !disk.target.isEmpty, targets.insert(disk.target).inserted, disk.capacityBytes >= 0 else {
                    throw CatalogError(
                        .invalid,
                        "the inventory of host '\(host)' has a bad disk '\(disk.target)' on VM '\(vm.name)' (empty, repeated or negative size)")
                }
            }
        }
    }

    static func replaceInventory(_ db: Database, hostID: Int64, vms: [ReportedVM], now: Date) throws -> InventoryChange {
        let previous = Set(try String.fetchAll(db, sql: "SELECT uuid FROM vm WHERE host_id = ?", arguments: [hostID]))
        // Detach first so that names freed by renames on this host cannot collide while rows are rewritten.
        try db.execute(sql: "UPDATE vm SET host_id = NULL WHERE host_id = ?", arguments: [hostID])
        var change = InventoryChange()
        var claimed = Set<String>()
        for vm in vms {
            let uuid = vm.uuid.catalogText
            if let owner = try Int64.fetchOne(db, sql: "SELECT host_id FROM vm WHERE uuid = ?", arguments: [uuid]),
                owner != hostID
            {
                try recordClaim(db, vm: vm, claimant: hostID, owner: owner, now: now)
                claimed.insert(uuid)
                change.claimed.append(vm.uuid)
                continue
            }
            try VMRecord(
                uuid: uuid, hostId: hostID, name: vm.name, state: vm.state.rawValue,
                guestAgentAnswering: vm.guestAgentAnswering, lastReportedAt: now
            ).upsert(db)
            try db.execute(sql: "DELETE FROM vm_disk WHERE vm_uuid = ?", arguments: [uuid])
            for disk in vm.disks {
                try VMDiskRecord(
                    vmUuid: uuid, target: disk.target, format: disk.format, capacityBytes: disk.capacityBytes,
                    path: disk.path
                ).insert(db)
            }
            if !previous.contains(uuid) { change.arrived.append(vm.uuid) }
        }
        // Claims this host no longer makes, and its claims on VMs that are its own now, are over.
        let ended = try String.fetchAll(db, sql: "SELECT vm_uuid FROM vm_claim WHERE host_id = ?", arguments: [hostID])
            .filter { !claimed.contains($0) }
        for uuid in ended {
            try db.execute(sql: "DELETE FROM vm_claim WHERE vm_uuid = ? AND host_id = ?", arguments: [uuid, hostID])
            try settleClaimAlert(db, vm: uuid, now: now)
        }
        let reported = Set(vms.map { $0.uuid.catalogText })
        for uuid in previous.subtracting(reported).sorted() {
            // Its host no longer reports it while another host does: the evidence of a migration.
            if let claim = try Row.fetchOne(
                db,
                sql: "SELECT host_id, name FROM vm_claim WHERE vm_uuid = ? ORDER BY last_seen_at DESC, host_id LIMIT 1",
                arguments: [uuid]),
                try Bool.fetchOne(
                    db, sql: "SELECT NOT EXISTS (SELECT 1 FROM vm WHERE host_id = ? AND name = ?)",
                    arguments: [claim["host_id"], claim["name"]]) ?? false
            {
                try db.execute(
                    sql: "UPDATE vm SET host_id = ?, name = ?, last_reported_at = ? WHERE uuid = ?",
                    arguments: [claim["host_id"], claim["name"], now, uuid])
                try db.execute(sql: "DELETE FROM vm_claim WHERE vm_uuid = ?", arguments: [uuid])
                try settleClaimAlert(db, vm: uuid, now: now)
                continue
            }
            let kept = try Bool.fetchOne(
                db,
                sql: """
                    SELECT EXISTS (SELECT 1 FROM group_member WHERE vm_uuid = :uuid)
                        OR EXISTS (SELECT 1 FROM recovery_point WHERE vm_uuid = :uuid)
                    """,
                arguments: ["uuid": uuid]) ?? true
            if kept {
                try db.execute(
                    sql: "UPDATE vm SET state = ? WHERE uuid = ?", arguments: [VMState.missing.rawValue, uuid])
                change.missing.append(try UUID(stored: uuid))
            } else {
                try db.execute(sql: "DELETE FROM vm WHERE uuid = ?", arguments: [uuid])
                change.forgotten.append(try UUID(stored: uuid))
            }
        }
        return change
    }

    /// Records that `claimant` reports a VM that `owner` holds, and keeps the VM's conflict alert open.
    private static func recordClaim(_ db: Database, vm: ReportedVM, claimant: Int64, owner: Int64, now: Date) throws {
        let uuid = vm.uuid.catalogText
        try db.execute(
            sql: """
                INSERT INTO vm_claim (vm_uuid, host_id, name, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (vm_uuid, host_id) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at
                """,
            arguments: [uuid, claimant, vm.name, now, now])
        try settleClaimAlert(db, vm: uuid, now: now)
    }

    /// Raises or updates the VM's `vm-claim-conflict` alert while any host claims it, and resolves it when none does.
    static func settleClaimAlert(_ db: Database, vm uuid: String, now: Date) throws {
        let subject = "vm \(uuid)"
        let claimants = try String.fetchAll(
            db,
            sql: "SELECT agent.host FROM vm_claim JOIN agent ON agent.id = vm_claim.host_id WHERE vm_uuid = ? ORDER BY agent.host",
            arguments: [uuid])
        guard !claimants.isEmpty,
            let owner = try Row.fetchOne(
                db, sql: "SELECT vm.name, agent.host FROM vm JOIN agent ON agent.id = vm.host_id WHERE vm.uuid = ?",
                arguments: [uuid])
        else {
            try resolveAlerts(db, kind: .vmClaimConflict, subject: subject, at: now)
            return
        }
        let host: String = owner["host"]
        let name: String = owner["name"]
        try raiseAlert(
            db, kind: .vmClaimConflict, severity: .critical, subject: subject,
            message: "VM \(host)/\(name) (\(uuid)) is also reported by host \(claimants.map { "'\($0)'" }.joined(separator: ", ")); "
                + "it stays with '\(host)', which alone runs its syncs and in-place restores. If it really moved, "
                + "the move completes when '\(host)' stops reporting it, or confirm with `bulwark vm move \(uuid) --to-host \(claimants[0])`; "
                + "if not, a host reports a VM that is not its own: check that host",
            at: now)
    }

    /// Moves a VM to `host`, which must report it (claim it) now: what an admin confirms when a VM really moved but
    /// its old host still reports it (a copy left defined there, say). Ends every claim on the VM; a host that goes
    /// on reporting it claims it anew.
    public func moveVM(_ reference: VMReference, toHost host: String, now: Date = Date()) async throws -> VMInfo {
        try await write { db in
            let vm = try Self.resolveVM(db, reference)
            let agent = try Self.agentRecord(db, host: host)
            if vm.host?.caseInsensitiveCompare(agent.host) == .orderedSame {
                throw CatalogError(.conflict, "VM \(vm.reference) is on host '\(agent.host)' already")
            }
            if let active = try Self.activeJob(db, vm: vm.uuid) {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) has \(active.kind) job \(active.id) \(active.state); wait for it or cancel it (`bulwark job cancel \(active.id)`) before moving the VM")
            }
            guard let name = try String.fetchOne(
                db, sql: "SELECT name FROM vm_claim WHERE vm_uuid = ? AND host_id = ?",
                arguments: [vm.uuid.catalogText, agent.id])
            else {
                throw CatalogError(
                    .conflict,
                    "host '\(agent.host)' does not report VM \(vm.reference); a VM moves only to a host that reports it (`bulwark alerts` lists the conflicts)")
            }
            if let clash = try String.fetchOne(
                db, sql: "SELECT uuid FROM vm WHERE host_id = ? AND name = ?", arguments: [agent.id, name])
            {
                throw CatalogError(
                    .conflict, "host '\(agent.host)' has another VM named '\(name)' (\(clash)); rename one in libvirt first")
            }
            try db.execute(
                sql: "UPDATE vm SET host_id = ?, name = ?, last_reported_at = ? WHERE uuid = ?",
                arguments: [agent.id, name, now, vm.uuid.catalogText])
            try db.execute(sql: "DELETE FROM vm_claim WHERE vm_uuid = ?", arguments: [vm.uuid.catalogText])
            try Self.settleClaimAlert(db, vm: vm.uuid.catalogText, now: now)
            return try Self.fetchVM(db, uuid: vm.uuid.catalogText)
        }
    }

    /// VMs by host and name; only `host`'s when given, only those in no group when `unprotectedOnly`.
    public func vms(host: String? = nil, unprotectedOnly: Bool = false) async throws -> [VMInfo] {
        try await read { db in
            var conditions: [String] = []
            var arguments = StatementArguments()
            if let host {
                let agent = try Self.agentRecord(db, host: host)
                conditions.append("vm.host_id = ?")
                arguments += [agent.id]
            }
            if unprotectedOnly { conditions.append("gm.vm_uuid IS NULL") }
            return try Self.fetchVMs(db, where: conditions, arguments: arguments)
        }
    }

    /// The VM with `uuid`.
    public func vm(uuid: UUID) async throws -> VMInfo {
        try await read { db in try Self.fetchVM(db, uuid: uuid.catalogText) }
    }

    /// Finds the one VM `reference` names; fails with `notFound` or, for a name several hosts have, `ambiguous`,
    /// listing the `HOST/NAME`s to choose from.
    public func resolveVM(_ reference: VMReference) async throws -> VMInfo {
        try await read { db in try Self.resolveVM(db, reference) }
    }

    static func resolveVM(_ db: Database, _ reference: VMReference) throws -> VMInfo {
        switch reference {
        case .uuid(let uuid):
            return try fetchVM(db, uuid: try vmRecord(db, uuid: uuid).uuid)
        case .hostAndName(let host, let name):
            let agent = try agentRecord(db, host: host)
            if let match = try fetchVMs(db, where: ["vm.host_id = ?", "vm.name = ?"], arguments: [agent.id, name]).first {
                return match
            }
            let elsewhere = try fetchVMs(db, where: ["vm.name = ?"], arguments: [name]).map(\.reference)
            throw CatalogError(
                .notFound,
                "host '\(agent.host)' reports no VM named '\(name)'" + (elsewhere.isEmpty
                    ? "; `bulwark vm list --host \(agent.host)` shows its VMs"
                    : "; a VM of that name is at \(elsewhere.joined(separator: ", "))"),
                candidates: elsewhere)
        case .name(let name):
            let matches = try fetchVMs(db, where: ["vm.name = ?"], arguments: [name])
            switch matches.count {
            case 1:
                return matches[0]
            case 0:
                let similar = try fetchVMs(db, where: ["vm.name = ? COLLATE NOCASE"], arguments: [name]).map(\.reference)
                throw CatalogError(
                    .notFound,
                    "no VM is named '\(name)'" + (similar.isEmpty
                        ? "; `bulwark vm list` shows the VMs agents report"
                        : "; did you mean \(similar.joined(separator: ", "))?"),
                    candidates: similar)
            default:
                let candidates = matches.map(\.reference)
                throw CatalogError(
                    .ambiguous,
                    "\(matches.count) VMs are named '\(name)': \(candidates.joined(separator: ", ")); name one as HOST/NAME or by UUID",
                    candidates: candidates)
            }
        }
    }

    static func fetchVM(_ db: Database, uuid: String) throws -> VMInfo {
        guard let vm = try fetchVMs(db, where: ["vm.uuid = ?"], arguments: [uuid]).first else {
            throw CatalogError(.notFound, "no VM has UUID \(uuid); `bulwark vm list` shows the VMs agents report")
        }
        return vm
    }

    /// VMs matching every condition, with their host, group and disks, in two queries whatever their number.
    static func fetchVMs(_ db: Database, where conditions: [String], arguments: StatementArguments) throws -> [VMInfo] {
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT vm.*, agent.host AS host_name, pg.name AS group_name
                FROM vm
                LEFT JOIN agent ON agent.id = vm.host_id
                LEFT JOIN group_member gm ON gm.vm_uuid = vm.uuid
                LEFT JOIN protection_group pg ON pg.id = gm.group_id
                \(filter)
                ORDER BY agent.host IS NULL, agent.host COLLATE NOCASE, vm.name, vm.uuid
                """,
            arguments: arguments)
        let disks: [String: [VMDisk]]
        if rows.count == 1 {
            disks = [rows[0]["uuid"]: try diskRecords(db, sql: "WHERE vm_uuid = ?", arguments: [rows[0]["uuid"]])]
        } else if rows.isEmpty {
            disks = [:]
        } else {
            disks = Dictionary(grouping: try VMDiskRecord.fetchAll(
                db, sql: "SELECT * FROM vm_disk ORDER BY vm_uuid, target"), by: \.vmUuid)
                .mapValues { $0.map(\.disk) }
        }
        return try rows.map { row in
            let record = try VMRecord(row: row)
            let group: String? = row["group_name"]
            return VMInfo(
                uuid: try UUID(stored: record.uuid), name: record.name, host: row["host_name"],
                state: VMState(rawValue: record.state), guestAgentAnswering: record.guestAgentAnswering,
                lastReportedAt: record.lastReportedAt, disks: disks[record.uuid] ?? [],
                group: try group.map { try ResourceName(stored: $0) })
        }
    }

    private static func diskRecords(_ db: Database, sql: String, arguments: StatementArguments) throws -> [VMDisk] {
        try VMDiskRecord.fetchAll(db, sql: "SELECT * FROM vm_disk \(sql) ORDER BY target", arguments: arguments)
            .map(\.disk)
    }
}

extension VMDiskRecord {
    var disk: VMDisk { VMDisk(target: target, format: format, capacityBytes: capacityBytes, path: path) }
}
