import BulwarkCore
import Foundation
import GRDB

// Retries: a task that failed for a reason that may pass is queued again as a new job, so each try keeps its own
// history and log; the new job waits for its back-off through `start_at`, which agents' polls already respect.

extension Catalog {
    /// Queues the next try of the failed task `record` when `policy` allows one; nil when it does not, or when the
    /// VM cannot have one now (it left its group, another job of it is queued or running).
    static func queueRetry(
        _ db: Database, of record: JobRecord, reason: String, policy: RetryPolicy, now: Date
    ) throws -> JobInfo? {
        guard record.parameters != nil, let parameters = try? decodeParameters(record),
            let delay = policy.delay(beforeAttempt: record.attempt + 1)
        else { return nil }
        let failed = try JobID(uuid: UUID(stored: record.id))
        // A restore reads its point wherever that is and needs no group; a sync stores into its group's datastore
        // as the group names it now.
        let isRestore = parameters.command == .restore
        guard let vmText = record.vmUuid, let vm = try? fetchVM(db, uuid: vmText), isRestore || vm.group != nil else {
            try log(db, failed, .warning, "not tried again: the VM is no longer in a protection group", at: now)
            return nil
        }
        if let active = try activeJob(db, vm: vm.uuid) {
            try log(db, failed, .info, "not tried again: job \(active.id) of the VM is \(active.state)", at: now)
            return nil
        }
        let startAt = now.addingTimeInterval(TimeInterval(delay))
        let id = JobID.generate()
        var retry = record
        retry.id = id.description
        if !isRestore, let groupName = vm.group {
            let group = try groupRecord(db, named: groupName)
            retry.groupId = group.id
            retry.datastoreId = group.datastoreId
        }
        retry.state = JobState.queued.rawValue
        retry.phase = nil
        retry.createdAt = now
        retry.startedAt = nil
        retry.endedAt = nil
        retry.error = nil
        retry.progress = 0
        retry.host = nil
        retry.cancelRequested = false
        retry.bytesTotal = nil
        retry.bytesScanned = nil
        retry.bytesSent = nil
        // A restore's point is what it reads (and what retention keeps for it); a sync's is what it committed.
        if !isRestore { retry.recoveryPointId = nil }
        retry.heartbeatAt = nil
        retry.acknowledged = false
        retry.startAt = startAt
        retry.attempt = record.attempt + 1
        retry.retryOf = record.id
        try retry.insert(db)
        let tries = "try \(retry.attempt) of \(policy.retries + 1)"
        try log(
            db, failed, .info,
            "tried again as job \(id) from \(startAt.formatted(.iso8601)) (\(tries))", at: now)
        try log(
            db, id, .info,
            "\(tries) of \(record.kind) of \(vm.reference), after job \(failed) failed: \(reason); starts \(startAt.formatted(.iso8601))",
            at: now)
        return try fetchJob(db, id: id)
    }

    /// Ends the queued retry `active` when a new request for its VM arrives: the request does what the retry
    /// waited to do, sooner.
    static func supersedeRetry(_ db: Database, _ active: JobInfo, by id: JobID, now: Date) throws -> Bool {
        guard active.state == .queued, active.retryOf != nil,
            var record = try JobRecord.fetchOne(db, key: active.id.description)
        else { return false }
        try end(db, &record, as: .cancelled, error: "superseded by job \(id), queued before this retry started", now: now)
        return true
    }
}
