public import BulwarkCore
public import Foundation
import GRDB

// The scheduler's view of the catalog: every protected VM with what its schedule depends on, read in a few
// queries whatever the number of VMs, and the one write that queues a scheduled job and settles its slots.

extension Catalog {
    /// Every member of every protection group, with its policy, its newest usable point and the slots settled.
    public func scheduleCandidates() async throws -> [ScheduleCandidate] {
        try await read { db in
            var handled: [String: [SchedulePlan.Run: Date]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT vm_uuid, run, slot FROM schedule_state") {
                guard let run = SchedulePlan.Run(rawValue: row["run"]) else { continue }
                handled[row["vm_uuid"], default: [:]][run] = row["slot"]
            }
            var policies: [Int64: ProtectionPolicy] = [:]
            for group in try GroupRecord.fetchAll(db) { policies[group.id!] = try Self.decodePolicy(group) }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT vm.uuid, vm.name, vm.host_id IS NOT NULL AS reported, agent.host AS host, gm.group_id,
                           gm.added_at, newest.created_at AS last_point, newest.logical_bytes AS last_logical,
                           (SELECT c.host FROM checkpoint c
                             WHERE c.vm_uuid = vm.uuid AND c.name = newest.checkpoint_name) AS checkpoint_host,
                           (SELECT COALESCE(SUM(d.capacity_bytes), 0) FROM vm_disk d WHERE d.vm_uuid = vm.uuid) AS capacity,
                           newest.disk_paths AS last_paths,
                           (SELECT json_group_object(d.target, d.path) FROM vm_disk d
                             WHERE d.vm_uuid = vm.uuid AND d.path IS NOT NULL) AS paths,
                           EXISTS (SELECT 1 FROM job WHERE job.vm_uuid = vm.uuid AND job.state IN (?, ?)) AS busy
                    FROM group_member gm JOIN vm ON vm.uuid = gm.vm_uuid LEFT JOIN agent ON agent.id = vm.host_id
                    LEFT JOIN recovery_point newest ON newest.id = (
                        SELECT rp.id FROM recovery_point rp WHERE rp.vm_uuid = vm.uuid AND rp.state IN (?, ?)
                        ORDER BY rp.created_at DESC, rp.id DESC LIMIT 1)
                    ORDER BY vm.uuid
                    """,
                arguments: [
                    JobState.queued.rawValue, JobState.running.rawValue,
                    RecoveryPointState.committed.rawValue, RecoveryPointState.verified.rawValue,
                ])
            return try rows.compactMap { row -> ScheduleCandidate? in
                let text: String = row["uuid"]
                guard let policy = policies[row["group_id"]] else { return nil }
                // What makes the newest point stop matching the VM: its disks' size, or its host (a migration,
                // which carries no checkpoint metadata along).
                var inconsistency: String?
                let host: String? = row["host"]
                let checkpointHost: String? = row["checkpoint_host"]
                if let logical = row["last_logical"] as Int64?, let capacity = row["capacity"] as Int64?, capacity > 0,
                    capacity != logical
                {
                    inconsistency = "its disks hold \(capacity) bytes, its newest point \(logical): a disk was resized, added or removed"
                } else if let host, let checkpointHost, host.lowercased() != checkpointHost.lowercased() {
                    inconsistency = "it moved from host \(checkpointHost) to \(host)"
                } else if let moved = Self.movedDisk(from: row["last_paths"], to: row["paths"]) {
                    inconsistency = "disk \(moved.target) moved from \(moved.from) to \(moved.to) (a storage migration)"
                }
                return ScheduleCandidate(
                    vmUUID: try UUID(stored: text), vmName: row["name"], policy: policy, joinedAt: row["added_at"],
                    lastPoint: row["last_point"], handled: handled[text] ?? [:], isReported: row["reported"],
                    isBusy: row["busy"], inconsistency: inconsistency)
            }
        }
    }

    /// The first disk, by target, whose path differs between two `disk_paths` objects; targets only one of them
    /// has are a disk added or removed, which the size check sees.
    static func movedDisk(from old: String?, to new: String?) -> (target: String, from: String, to: String)? {
        func paths(_ text: String?) -> [String: String]? {
            text.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
        }
        // Both are built by the same json_group_object over vm_disk's rows: unchanged paths give the same text,
        // and a pass over hundreds of VMs decodes nothing.
        guard old != new, let before = paths(old), let after = paths(new) else { return nil }
        for (target, path) in before.sorted(by: { $0.key < $1.key }) {
            if let now = after[target], now != path { return (target, path, now) }
        }
        return nil
    }

    /// Queues the jobs a scheduler pass decided on and records the slots each settles, all in one transaction (a
    /// pass at a recovery-point time may queue hundreds). A VM that has a queued or running job by now (its slot
    /// stays owed), left its group, or is not reported by any host gets no job and settles nothing.
    public func queueScheduledRuns(
        _ decisions: [(vm: UUID, decision: SchedulePlan.Decision)], now: Date = Date()
    ) async throws -> [JobInfo] {
        try await write { db in
            try decisions.compactMap { try Self.queueScheduledRun(db, vm: $0.vm, decision: $0.decision, now: now) }
        }
    }

    private static func queueScheduledRun(
        _ db: Database, vm uuid: UUID, decision: SchedulePlan.Decision, now: Date
    ) throws -> JobInfo? {
        guard let run = decision.run else { return nil }
        let vm: VMInfo
        do {
            vm = try Self.fetchVM(db, uuid: uuid.catalogText)
        } catch let error as CatalogError where error.code == .notFound {
            return nil  // forgotten since the pass read it
        }
        guard vm.host != nil, let groupName = vm.group, try Self.activeJob(db, vm: uuid) == nil else { return nil }
        do {
            let group = try Self.groupRecord(db, named: groupName)
            let task = NewTask(
                vmUUID: uuid, command: run == .consistencyCheck ? .consistencyCheck : .sync,
                expressFull: run == .expressFull, createdAt: now)
            let job = try Self.insertTask(db, task, vm: vm, group: group, policy: try Self.decodePolicy(group))
            try Self.log(db, job.id, .info, "scheduled by group \(group.name): \(decision.reason ?? run.description)", at: now)
            for (settled, slot) in decision.handled {
                try db.execute(
                    sql: """
                        INSERT INTO schedule_state (vm_uuid, run, slot) VALUES (?, ?, ?)
                        ON CONFLICT (vm_uuid, run) DO UPDATE SET slot = excluded.slot
                        """,
                    arguments: [uuid.catalogText, settled.rawValue, slot])
            }
            return job
        }
    }
}

/// A protected VM as the scheduler sees it.
public struct ScheduleCandidate: Hashable, Sendable {
    public var vmUUID: UUID
    public var vmName: String
    public var policy: ProtectionPolicy
    /// When it joined its group: slots before are not owed.
    public var joinedAt: Date
    /// Its newest committed or verified point; nil before the initial replica.
    public var lastPoint: Date?
    /// The slot each kind of run was last queued for.
    public var handled: [SchedulePlan.Run: Date]
    /// A host reports it (an agent can run its jobs).
    public var isReported: Bool
    /// It has a queued or running job.
    public var isBusy: Bool
    /// Why its newest point no longer matches it, if it does not.
    public var inconsistency: String?
}
