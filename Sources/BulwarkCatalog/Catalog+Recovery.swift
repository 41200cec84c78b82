public import BulwarkCore
public import Foundation
import GRDB

// Restore tasks: a recovery point written back by the agent of the host it goes to, ending with a completion
// (no recovery point) instead of a commit.

extension Catalog {
    /// Queues a restore of one of the VM's points.
    ///
    /// Refused (naming what is wrong) when the point is not the VM's or is damaged, the VM has a queued or running
    /// job, the target host is not enrolled, a restore to the original place names a host the VM is not on, or a
    /// new VM's name is taken on the target host.
    @discardableResult
    public func createRecoveryTask(_ recovery: NewRecovery) async throws -> JobInfo {
        try await write { db in
            let restore = recovery.restore
            let vm = try Self.fetchVM(db, uuid: try Self.vmRecord(db, uuid: recovery.vmUUID).uuid)
            let point = try Self.fetchPoint(db, id: restore.point)
            guard point.vmUUID == vm.uuid else {
                throw CatalogError(.notFound, "point \(point.id) is not a point of VM \(vm.reference); `bulwark points \(vm.reference)` lists its points")
            }
            guard point.state != .damaged else {
                throw CatalogError(
                    .conflict,
                    "point \(point.id) of \(vm.reference) is damaged and cannot be restored; choose an earlier point (`bulwark points \(vm.reference)`), or let the next sync store the lost data again and verify")
            }
            if let active = try Self.activeJob(db, vm: vm.uuid),
                try !Self.supersedeRetry(db, active, by: recovery.id, now: recovery.createdAt)
            {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) already has \(active.kind) job \(active.id), which is \(active.state); wait for it to end or cancel it (`bulwark job cancel \(active.id)`)")
            }
            let agent = try Self.agentRecord(db, host: restore.host)
            switch restore.mode {
            case .original:
                guard let host = vm.host, host.lowercased() == agent.host.lowercased() else {
                    throw CatalogError(
                        .conflict,
                        "VM \(vm.reference) is not on host \(agent.host) now"
                            + (vm.host.map { " but on \($0)" } ?? ", nor reported by any host")
                            + "; recover it as a new VM instead (--to-host HOST --path DIR)")
                }
            case .items:
                break
            case .alternate:
                if let name = restore.name,
                    try Bool.fetchOne(
                        db, sql: "SELECT EXISTS (SELECT 1 FROM vm WHERE host_id = ? AND name = ? AND state != 'missing')",
                        arguments: [agent.id, name]) == true
                {
                    throw CatalogError(
                        .conflict, "host \(agent.host) already has a VM named \(name); choose another name (--name)")
                }
            }
            let datastoreID = try Int64.fetchOne(
                db, sql: "SELECT datastore_id FROM recovery_point WHERE id = ?", arguments: [point.id.description])
            let groupID = try vm.group.map { try Self.groupRecord(db, named: $0).id! }
            let parameters = TaskParameters(command: .restore, quiesce: .auto, retentionDays: 0, restore: restore)
            try JobRecord(
                id: recovery.id.description, kind: JobKind.recovery.rawValue, subject: vm.reference,
                vmUuid: vm.uuid.catalogText, groupId: groupID, datastoreId: datastoreID, state: JobState.queued.rawValue,
                phase: nil, createdAt: recovery.createdAt, progress: 0, parameters: try Self.encode(parameters),
                recoveryPointId: point.id.description, targetHost: agent.host
            ).insert(db)
            let destination = switch restore.mode {
            case .original: "its original place on \(agent.host)"
            case .alternate: "a new VM \(restore.name ?? "?") on \(agent.host) in \(restore.folder ?? "?") (\(restore.format ?? "qcow2"))"
            case .items: "\(restore.folder ?? "?") on \(agent.host): \((restore.items ?? []).joined(separator: ", "))"
            }
            try Self.log(
                db, recovery.id, .info,
                "recovery of \(vm.reference) from point \(point.id) (\(point.createdAt.formatted(.iso8601)), \(point.consistency)) to \(destination)",
                at: recovery.createdAt)
            return try Self.fetchJob(db, id: recovery.id)
        }
    }

    /// Ends the running restore task `id` of `host` as succeeded, with the agent's summary.
    ///
    /// A restore to the original place changed the VM's disks behind its checkpoints, so they are marked invalid:
    /// the VM's next sync is a consistency check, which starts a new chain. Returns the job and, for such a
    /// restore of a VM in a group, that check, queued at once.
    @discardableResult
    public func completeTask(
        id: JobID, host: String, summary: String, bytesReceived: Int64, now: Date = Date()
    ) async throws -> (job: JobInfo, check: JobInfo?) {
        try await write { db in
            var record = try Self.runningTaskRecord(db, id: id, host: host)
            let parameters = try Self.decodeParameters(record)
            guard parameters.command == .restore, let restore = parameters.restore else {
                throw CatalogError(.conflict, "task \(id) is a \(parameters.command); it ends with its commit, not a completion")
            }
            guard !record.cancelRequested else {
                throw CatalogError(.cancelled, "task \(id) was cancelled by an admin; finish it as cancelled")
            }
            record.bytesSent = max(0, bytesReceived)
            record.phase = JobPhase.commit.rawValue
            try Self.end(db, &record, as: .succeeded, error: nil, now: now)
            try Self.log(db, id, .info, summary, at: now)
            var check: JobInfo?
            if restore.mode == .original, let vmText = record.vmUuid {
                try db.execute(
                    sql: "UPDATE checkpoint SET state = ? WHERE vm_uuid = ?",
                    arguments: [CheckpointState.invalid.rawValue, vmText])
                let vm = try Self.fetchVM(db, uuid: vmText)
                if let groupName = vm.group, vm.host != nil, try Self.activeJob(db, vm: vm.uuid) == nil {
                    let group = try Self.groupRecord(db, named: groupName)
                    let job = try Self.insertTask(
                        db, NewTask(vmUUID: vm.uuid, command: .consistencyCheck, createdAt: now), vm: vm, group: group,
                        policy: try Self.decodePolicy(group))
                    try Self.log(
                        db, job.id, .info, "queued after recovery \(id) wrote the VM's disks back: protection restarts with a consistency check",
                        at: now)
                    check = job
                }
            }
            return (try Self.fetchJob(db, id: id), check)
        }
    }
}
