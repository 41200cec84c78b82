public import BulwarkCore
public import Foundation
import GRDB

// Seeding: a VM's initial replica read by bulwarkd itself from disk images an admin exported and brought to the
// server (MABS's manual replica creation). The job is the server's own; its point commits like a sync's.

extension Catalog {
    /// Starts a seed job for a protected VM that has no recovery point and no queued or running job, in one
    /// transaction, and returns it with what the seed needs: the VM's disks, datastore and retention.
    public func startSeed(vm reference: VMReference, now: Date = Date()) async throws -> SeedInfo {
        try await write { db in
            let vm = try Self.resolveVM(db, reference)
            guard let groupName = vm.group else {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) is in no protection group; add it to one first (`bulwark group add GROUP \(vm.reference)`): the group names the datastore a seed goes to")
            }
            if let active = try Self.activeJob(db, vm: vm.uuid) {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) already has \(active.kind) job \(active.id), which is \(active.state); a seed is the initial replica, so wait for that job to end or cancel it (`bulwark job cancel \(active.id)`)")
            }
            let points = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM recovery_point WHERE vm_uuid = ?", arguments: [vm.uuid.catalogText]) ?? 0
            guard points == 0 else {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) has \(points) recovery points already; seeding makes only a VM's initial replica: run `bulwark backup \(vm.reference)` instead")
            }
            guard !vm.disks.isEmpty else {
                throw CatalogError(
                    .conflict,
                    "VM \(vm.reference) has no disks in its last inventory report; start its host's agent so it reports them")
            }
            let group = try Self.groupRecord(db, named: groupName)
            let policy = try Self.decodePolicy(group)
            guard let datastore = try DatastoreRecord.fetchOne(db, key: group.datastoreId) else {
                throw CatalogError(.notFound, "the datastore of protection group '\(group.name)' is gone; recreate the group")
            }
            let id = JobID.generate(at: now)
            var record = JobRecord(
                id: id.description, kind: JobKind.seed.rawValue, subject: vm.reference, vmUuid: vm.uuid.catalogText,
                groupId: group.id, datastoreId: datastore.id, state: JobState.running.rawValue,
                phase: JobPhase.transfer.rawValue, createdAt: now, progress: 0)
            record.startedAt = now
            try record.insert(db)
            try Self.log(db, id, .info, "seeding the initial replica of \(vm.reference) from exported disk images", at: now)
            return SeedInfo(
                job: try Self.fetchJob(db, id: id), vm: vm, group: try ResourceName(stored: group.name),
                datastore: try ResourceName(stored: datastore.name), datastorePath: datastore.path,
                chunkSize: datastore.chunkSize, retentionDays: policy.retentionDays)
        }
    }

    /// The commit point of a seed: the point and the job's success in one transaction; refused unless the job is
    /// still running (bulwarkd restarted meanwhile, which failed it).
    @discardableResult
    public func commitSeed(id: JobID, point: NewRecoveryPoint, now: Date = Date()) async throws -> JobInfo {
        try await write { db in
            guard var record = try JobRecord.fetchOne(db, key: id.description), record.kind == JobKind.seed.rawValue,
                record.state == JobState.running.rawValue
            else {
                throw CatalogError(.conflict, "seed job \(id) is no longer running; its point is not recorded")
            }
            let info = try Self.insertRecoveryPoint(db, point)
            record.recoveryPointId = point.id.description
            record.phase = JobPhase.commit.rawValue
            try Self.end(db, &record, as: .succeeded, error: nil, now: now)
            try Self.log(
                db, id, .info, "committed recovery point \(info.id) (seed, \(info.storedBytes) bytes stored)", at: now)
            return try Self.fetchJob(db, id: id)
        }
    }
}

/// A seed job that started, and what it needs.
public struct SeedInfo: Sendable {
    public var job: JobInfo
    public var vm: VMInfo
    public var group: ResourceName
    public var datastore: ResourceName
    public var datastorePath: String
    public var chunkSize: Int
    public var retentionDays: Int
}
