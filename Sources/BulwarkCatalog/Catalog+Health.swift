public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// What the alert monitor judges each protected VM by, read in a few queries whatever the number of VMs.
    public func protectionHealth() async throws -> [ProtectionHealth] {
        try await read { db in
            var policies: [Int64: ProtectionPolicy] = [:]
            for group in try GroupRecord.fetchAll(db) { policies[group.id!] = try Self.decodePolicy(group) }
            let syncKinds = [JobKind.sync, .expressFull, .consistencyCheck, .initialReplica, .seed].map(\.rawValue)
            let finished = [JobState.succeeded, .succeededWithWarnings, .failed, .cancelled].map(\.rawValue)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT vm.uuid, vm.name, agent.host AS host, gm.group_id, gm.added_at,
                           (SELECT MAX(rp.created_at) FROM recovery_point rp
                             WHERE rp.vm_uuid = vm.uuid AND rp.state IN (?, ?)) AS last_point,
                           (SELECT GROUP_CONCAT(rp.id) FROM recovery_point rp
                             WHERE rp.vm_uuid = vm.uuid AND rp.state = ?) AS damaged,
                           (SELECT job.id FROM job WHERE job.vm_uuid = vm.uuid
                              AND job.kind IN (\(syncKinds.map { _ in "?" }.joined(separator: ",")))
                              AND job.state IN (\(finished.map { _ in "?" }.joined(separator: ",")))
                             ORDER BY job.ended_at DESC, job.id DESC LIMIT 1) AS last_job
                    FROM group_member gm JOIN vm ON vm.uuid = gm.vm_uuid LEFT JOIN agent ON agent.id = vm.host_id
                    ORDER BY vm.uuid
                    """,
                arguments: StatementArguments(
                    [RecoveryPointState.committed.rawValue, RecoveryPointState.verified.rawValue,
                     RecoveryPointState.damaged.rawValue] + syncKinds + finished))
            // The latest jobs in one query, not one per VM: a pass reads the whole fleet every few seconds.
            let jobIDs = rows.compactMap { $0["last_job"] as String? }
            var jobs: [String: JobInfo] = [:]
            if !jobIDs.isEmpty {
                for job in try Self.fetchJobs(
                    db, where: ["job.id IN (\(jobIDs.map { _ in "?" }.joined(separator: ",")))"],
                    arguments: StatementArguments(jobIDs), limit: nil)
                {
                    jobs[job.id.description] = job
                }
            }
            return try rows.compactMap { row -> ProtectionHealth? in
                guard let policy = policies[row["group_id"]] else { return nil }
                let uuid = try UUID(stored: row["uuid"] as String)
                let name: String = row["name"]
                let host: String? = row["host"]
                let lastJob = (row["last_job"] as String?).flatMap { jobs[$0] }
                let damaged = ((row["damaged"] as String?) ?? "").split(separator: ",").map(String.init)
                return ProtectionHealth(
                    vmUUID: uuid, reference: host.map { "\($0)/\(name)" } ?? uuid.catalogText, policy: policy,
                    joinedAt: row["added_at"], lastPoint: row["last_point"], lastJob: lastJob, damagedPoints: damaged)
            }
        }
    }
}

extension Catalog {
    /// The latest finished job of each of `kinds` that bulwarkd runs itself (no VM), for the alert monitor.
    public func latestServerJobs(kinds: [JobKind]) async throws -> [JobInfo] {
        try await read { db in
            let finished = [JobState.succeeded, .succeededWithWarnings, .failed, .cancelled].map(\.rawValue)
            return try kinds.compactMap { kind in
                try Self.fetchJobs(
                    db,
                    where: [
                        "job.kind = ?", "job.vm_uuid IS NULL",
                        "job.state IN (\(finished.map { _ in "?" }.joined(separator: ",")))",
                    ],
                    arguments: StatementArguments([kind.rawValue] + finished), limit: 1
                ).first
            }
        }
    }
}

/// A protected VM as the alert monitor sees it.
public struct ProtectionHealth: Hashable, Sendable {
    public var vmUUID: UUID
    /// HOST/NAME, or the UUID when no host reports it: the subject of its alerts.
    public var reference: String
    public var policy: ProtectionPolicy
    public var joinedAt: Date
    public var lastPoint: Date?
    /// Its latest finished sync, check, initial replica or seed.
    public var lastJob: JobInfo?
    /// Ids of its points marked damaged by a verify.
    public var damagedPoints: [String]
}
