public import BulwarkCore
public import Foundation
import GRDB

// Agent tasks: jobs that an agent claims, runs on its host and ends with a commit or a failure. Each step is one
// transaction that first checks the task is still the calling host's and still running, so a late call from an
// agent that lost its task (cancelled, failed as orphaned, server restarted) changes nothing.

extension Catalog {
    /// Queues a task for one VM; see ``createTasks(_:)``.
    @discardableResult
    public func createTask(_ task: NewTask) async throws -> JobInfo {
        try await createTasks([task])[0]
    }

    /// Queues tasks for several VMs, all or none.
    ///
    /// Each VM must be reported by a host (the task runs there) and be a member of a protection group (which names
    /// the datastore, the retention and the quiesce mode), and must have no queued or running job: a second sync
    /// would only wait for the first, so it is refused naming the job that is in the way.
    @discardableResult
    public func createTasks(_ tasks: [NewTask]) async throws -> [JobInfo] {
        try await write { db in
            var seen = Set<UUID>()
            var created: [JobInfo] = []
            for task in tasks {
                guard seen.insert(task.vmUUID).inserted else {
                    throw CatalogError(.invalid, "VM \(task.vmUUID.catalogText) is named twice; name each VM once")
                }
                let vm = try Self.fetchVM(db, uuid: try Self.vmRecord(db, uuid: task.vmUUID).uuid)
                if let active = try Self.activeJob(db, vm: vm.uuid),
                    try !Self.supersedeRetry(db, active, by: task.id, now: task.createdAt)
                {
                    throw CatalogError(
                        .conflict,
                        "VM \(vm.reference) already has \(active.kind) job \(active.id), which is \(active.state); wait for it to end or cancel it (`bulwark job cancel \(active.id)`)")
                }
                guard vm.host != nil else {
                    throw CatalogError(
                        .conflict,
                        "VM \(vm.reference) (\(vm.name)) is not reported by any enrolled host, so no agent can run the job; start the agent of the host it lives on, or wait until a host reports it")
                }
                guard let groupName = vm.group else {
                    throw CatalogError(
                        .conflict,
                        "VM \(vm.reference) is in no protection group; add it to one first (`bulwark group add GROUP \(vm.reference)`): the group names the datastore and the retention")
                }
                let group = try Self.groupRecord(db, named: groupName)
                let policy = try Self.decodePolicy(group)
                created.append(try Self.insertTask(db, task, vm: vm, group: group, policy: policy))
            }
            return created
        }
    }

    /// Queues the initial replica of each VM that has no recovery point yet, as its group's `--replica-creation`
    /// says: at once for `now`, at the set time for `at:` (at once when that time has passed), nothing for
    /// `manual`.
    ///
    /// Called after VMs join a group. A VM that cannot have its replica queued now is skipped, not refused: one
    /// with a queued or running job (that job makes the replica), one no host reports (the replica is made by the
    /// first sync an admin or the schedule asks for once it is back), one that left its group meanwhile.
    public func queueInitialReplicas(
        of vms: [UUID], now: Date = Date(), calendar: Calendar = .current
    ) async throws -> [JobInfo] {
        try await write { db in
            var queued: [JobInfo] = []
            for uuid in Set(vms).sorted(by: { $0.uuidString < $1.uuidString }) {
                let vm = try Self.fetchVM(db, uuid: uuid.catalogText)
                guard vm.host != nil, let groupName = vm.group, try Self.activeJob(db, vm: uuid) == nil else { continue }
                let hasPoint = try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM recovery_point WHERE vm_uuid = ?)",
                    arguments: [uuid.catalogText]) ?? false
                guard !hasPoint else { continue }
                let group = try Self.groupRecord(db, named: groupName)
                let policy = try Self.decodePolicy(group)
                let startAt: Date?
                switch policy.replicaCreation {
                case .manual: continue
                case .now: startAt = nil
                case .at(let moment):
                    let date = moment.date(in: calendar) ?? now
                    startAt = date > now ? date : nil
                }
                let task = NewTask(vmUUID: uuid, command: .sync, createdAt: now, startAt: startAt, initialReplica: true)
                let job = try Self.insertTask(db, task, vm: vm, group: group, policy: policy)
                try Self.log(
                    db, job.id, .info,
                    "initial replica of \(vm.reference) (group \(group.name), replica creation \(policy.replicaCreation))",
                    at: now)
                queued.append(job)
            }
            return queued
        }
    }

    static func insertTask(
        _ db: Database, _ task: NewTask, vm: VMInfo, group: GroupRecord, policy: ProtectionPolicy
    ) throws -> JobInfo {
        let parameters = TaskParameters(
            command: task.command, expressFull: task.expressFull, retainUntil: task.retainUntil,
            quiesce: policy.quiesce, retentionDays: policy.retentionDays, initialReplica: task.initialReplica)
        try JobRecord(
            id: task.id.description, kind: parameters.jobKind.rawValue, subject: vm.reference,
            vmUuid: vm.uuid.catalogText, groupId: group.id, datastoreId: group.datastoreId,
            state: JobState.queued.rawValue, phase: nil, createdAt: task.createdAt, progress: 0,
            parameters: try encode(parameters), startAt: task.startAt
        ).insert(db)
        return try fetchJob(db, id: task.id)
    }

    /// Claims the oldest queued task whose VM lives on `host` now: it becomes running (phase snapshot, heartbeat
    /// now) and belongs to that host. Nil when there is none.
    ///
    /// `limits` hold a task back, queued, while its host or its datastore runs as many tasks as allowed.
    public func claimTask(host: String, now: Date = Date(), limits: JobLimits = JobLimits()) async throws -> TaskInfo? {
        // Agents poll several times a second; a read finds most polls empty without taking the writer.
        let agentID = try await read { db in try Self.agentRecord(db, host: host).id! }
        let waiting = try await read { db in try Self.nextQueuedTask(db, agentID: agentID, now: now, limits: limits) != nil }
        guard waiting else { return nil }
        return try await write { db in
            let agent = try Self.agentRecord(db, host: host)
            while var record = try Self.nextQueuedTask(db, agentID: agent.id!, now: now, limits: limits) {
                let id = try JobID(uuid: UUID(stored: record.id))
                guard let datastoreID = record.datastoreId,
                    try DatastoreRecord.fetchOne(db, key: datastoreID) != nil
                else {
                    // The group and its datastore were deleted after the job was queued: nothing can store it.
                    try Self.end(
                        db, &record, as: .failed,
                        error: "the datastore of this job's protection group was removed before the job started; start a new sync",
                        now: now)
                    continue
                }
                record.state = JobState.running.rawValue
                record.phase = JobPhase.snapshot.rawValue
                record.startedAt = now
                record.heartbeatAt = now
                record.host = agent.host
                try record.update(db)
                try Self.log(db, id, .info, "claimed by the agent on \(agent.host)", at: now)
                return try Self.taskInfo(db, record)
            }
            return nil
        }
    }

    /// A task, with what it builds on.
    public func task(id: JobID) async throws -> TaskInfo {
        try await read { db in
            guard let record = try JobRecord.fetchOne(db, key: id.description), record.parameters != nil else {
                throw CatalogError(.notFound, "no agent task has id \(id); `bulwark jobs` lists jobs")
            }
            return try Self.taskInfo(db, record)
        }
    }

    /// The running task `id` of `host`: `notFound` when it is another host's (or no task), `conflict` when it is
    /// not running (cancelled, failed, finished).
    public func runningTask(id: JobID, host: String) async throws -> TaskInfo {
        try await read { db in try Self.taskInfo(db, try Self.runningTaskRecord(db, id: id, host: host)) }
    }

    /// Notes that the agent of `host` called about the running task `id`: the claim reached it, so the task is
    /// failed, not queued again, if the agent later loses it.
    public func acknowledgeTask(id: JobID, host: String, now: Date = Date()) async throws {
        try await write { db in
            var record = try Self.runningTaskRecord(db, id: id, host: host)
            guard !record.acknowledged else { return }
            record.acknowledged = true
            record.heartbeatAt = now
            try record.update(db)
        }
    }

    /// Records a status report (phase, progress, log lines, heartbeat); returns whether an admin asked to cancel.
    public func recordTaskStatus(
        id: JobID, host: String, _ status: TaskStatus, now: Date = Date()
    ) async throws -> Bool {
        if let progress = status.progress {
            guard progress.bytesTotal >= 0, progress.bytesScanned >= 0, progress.bytesSent >= 0 else {
                throw CatalogError(
                    .invalid,
                    "the progress of task \(id) has a negative byte count (\(progress.bytesTotal) total, \(progress.bytesScanned) scanned, \(progress.bytesSent) sent); report counts from 0")
            }
        }
        return try await write { db in
            var record = try Self.runningTaskRecord(db, id: id, host: host)
            if let phase = status.phase { record.phase = phase.rawValue }
            if let progress = status.progress {
                record.bytesTotal = progress.bytesTotal
                record.bytesScanned = progress.bytesScanned
                record.bytesSent = progress.bytesSent
                record.progress = progress.fraction
            }
            record.heartbeatAt = now
            record.acknowledged = true
            try record.update(db)
            for line in status.log { try Self.log(db, id, line.level, line.message, at: line.time) }
            return record.cancelRequested
        }
    }

    /// Cancels a job: a queued one ends at once; a running task is asked to stop (its agent finishes it as
    /// cancelled, and its commit is refused from now on). A finished job is a conflict.
    ///
    /// An agent whose host died never finishes its task, and the task would block every later sync of the VM; so
    /// cancelling again a task whose agent has not reported for `staleAfter` ends it at once.
    @discardableResult
    public func requestCancel(id: JobID, now: Date = Date(), staleAfter: TimeInterval = 600) async throws -> JobInfo {
        try await write { db in
            guard var record = try JobRecord.fetchOne(db, key: id.description) else {
                throw CatalogError(.notFound, "no job has id \(id); `bulwark jobs` lists jobs")
            }
            let state = try stored(record.state, as: JobState.self)
            switch state {
            case .queued:
                try Self.end(db, &record, as: .cancelled, error: "cancelled by an admin before it started", now: now)
            case .running:
                guard record.parameters != nil else {
                    throw CatalogError(
                        .conflict,
                        "job \(id) is a \(record.kind) job run by bulwarkd itself, which cannot be cancelled while it runs; wait for it to end")
                }
                let lastReport = record.heartbeatAt ?? record.startedAt ?? record.createdAt
                if record.cancelRequested, now.timeIntervalSince(lastReport) >= staleAfter {
                    try Self.end(
                        db, &record, as: .cancelled,
                        error: "cancelled by an admin; the agent on \(record.host ?? "its host") has not reported since \(lastReport), so its partial data is not a recovery point",
                        now: now)
                } else if !record.cancelRequested {
                    record.cancelRequested = true
                    try record.update(db)
                    try Self.log(
                        db, id, .warning,
                        "cancel requested by an admin; the agent on \(record.host ?? "its host") stops at its next status report",
                        at: now)
                }
            default:
                throw CatalogError(
                    .conflict, "job \(id) has already ended (\(state)); only queued or running jobs can be cancelled")
            }
            return try Self.fetchJob(db, id: id)
        }
    }

    /// Ends a running task without a point: `failed` or `cancelled`, with the agent's reason.
    ///
    /// A failure the agent calls `transient` (the server or the NBD connection lost, libvirtd restarted) is tried
    /// again as `retry` allows; the job returned is the failed one.
    @discardableResult
    public func finishTask(
        id: JobID, host: String, state: JobState, error: String?, transient: Bool = false,
        retry: RetryPolicy = .none, now: Date = Date()
    ) async throws -> JobInfo {
        guard state == .failed || state == .cancelled else {
            throw CatalogError(
                .invalid,
                "a task can be finished as failed or cancelled, not \(state); a successful sync ends with its commit")
        }
        return try await write { db in
            var record = try Self.runningTaskRecord(db, id: id, host: host)
            let reason = error.flatMap { $0.isEmpty ? nil : $0 }
                ?? (state == .cancelled ? "cancelled" : "the agent on \(host) reported a failure without a reason")
            try Self.end(db, &record, as: state, error: reason, now: now)
            if state == .failed, transient {
                _ = try Self.queueRetry(db, of: record, reason: reason, policy: retry, now: now)
            }
            return try Self.fetchJob(db, id: id)
        }
    }

    /// The commit point of a sync: records the recovery point, the checkpoint its sync made and the job's success
    /// in one transaction. Refused, recording nothing, unless the task is `host`'s, running, and not asked to
    /// cancel.
    @discardableResult
    public func commitTask(
        id: JobID, host: String, point: NewRecoveryPoint, checkpoint: NewCheckpoint?, now: Date = Date()
    ) async throws -> JobInfo {
        try await write { db in
            var record = try Self.runningTaskRecord(db, id: id, host: host)
            guard try Self.decodeParameters(record).command != .restore else {
                throw CatalogError(.conflict, "task \(id) is a restore, which makes no recovery point; complete it instead")
            }
            guard !record.cancelRequested else {
                throw CatalogError(
                    .cancelled,
                    "task \(id) was cancelled by an admin, so its point is not recorded; finish the task as cancelled")
            }
            guard record.vmUuid == point.vmUUID.catalogText,
                checkpoint.map({ $0.vmUUID == point.vmUUID }) ?? true
            else {
                throw CatalogError(
                    .invalid,
                    "task \(id) is about VM \(record.vmUuid ?? "(gone)"), not \(point.vmUUID.catalogText); commit the task's own VM")
            }
            let info = try Self.insertRecoveryPoint(db, point)
            // A sync of a shut-off VM makes no checkpoint: its point names the VM's current one, as the catalog
            // recorded it. Any other reuse of a name is refused by `recordCheckpoint`.
            if let checkpoint,
                try CheckpointRecord.filter(
                    Column("vm_uuid") == checkpoint.vmUUID.catalogText && Column("name") == checkpoint.name
                        && Column("state") == CheckpointState.current.rawValue && Column("xml") == checkpoint.xml
                ).fetchCount(db) == 0
            {
                try Self.recordCheckpoint(db, checkpoint)
            }
            record.recoveryPointId = point.id.description
            record.phase = JobPhase.commit.rawValue
            record.heartbeatAt = now
            try Self.end(db, &record, as: .succeeded, error: nil, now: now)
            try Self.log(
                db, id, .info,
                "committed recovery point \(info.id) (\(info.syncKind), \(info.consistency), \(info.storedBytes) bytes stored)",
                at: now)
            return try Self.fetchJob(db, id: id)
        }
    }

    /// Fails every task running on `host` that its agent does not list as running: the agent restarted (or lost
    /// the task) and will never finish it.
    ///
    /// A task its agent never called about is queued again instead: the claim never reached an agent (its poll was
    /// answered on a connection that had died), so nothing ran, and failing it would lose the admin's request.
    /// A failed one is tried again as `retry` allows. Returns the tasks it changed, failed or queued.
    @discardableResult
    public func failOrphanedTasks(
        host: String, running: Set<JobID>, retry: RetryPolicy = .none, now: Date = Date()
    ) async throws -> [JobInfo] {
        let keep = Set(running.map(\.description))
        let orphans = try await read { db in
            try Self.runningTasks(db, host: host).filter { !keep.contains($0.id) }
        }
        guard !orphans.isEmpty else { return [] }
        return try await write { db in
            var changed: [JobInfo] = []
            for var record in try Self.runningTasks(db, host: host) where !keep.contains(record.id) {
                if !record.acknowledged {
                    // Back to how it was queued; the state machine of jobs forbids this move to everyone else.
                    record.state = JobState.queued.rawValue
                    record.phase = nil
                    record.startedAt = nil
                    record.heartbeatAt = nil
                    record.host = nil
                    try record.update(db)
                    let id = try JobID(uuid: UUID(stored: record.id))
                    try Self.log(
                        db, id, .warning,
                        "the agent on \(host) polled again without this task, so the claim never reached it; queued again",
                        at: now)
                    changed.append(try Self.fetchJob(db, id: id))
                    continue
                }
                let reason = "the agent on \(host) restarted while the task ran; its partial data is not a recovery point"
                try Self.end(db, &record, as: .failed, error: reason, now: now)
                _ = try Self.queueRetry(db, of: record, reason: reason, policy: retry, now: now)
                changed.append(try Self.fetchJob(db, id: try JobID(uuid: UUID(stored: record.id))))
            }
            return changed
        }
    }

    /// Fails every job still `running`: called when bulwarkd starts, since nothing can finish a job the last run
    /// left behind. Agent tasks among them are tried again as `retry` allows (jobs of bulwarkd itself run again on
    /// their own schedule).
    @discardableResult
    public func failInterruptedJobs(retry: RetryPolicy = .none, now: Date = Date()) async throws -> [JobInfo] {
        try await write { db in
            var failed: [JobInfo] = []
            let records = try JobRecord.fetchAll(
                db, sql: "SELECT * FROM job WHERE state = ? ORDER BY created_at, id", arguments: [JobState.running.rawValue])
            for var record in records {
                let reason = "bulwarkd stopped while the job ran; its partial data is not a recovery point"
                try Self.end(db, &record, as: .failed, error: reason, now: now)
                _ = try Self.queueRetry(db, of: record, reason: reason, policy: retry, now: now)
                failed.append(try Self.fetchJob(db, id: try JobID(uuid: UUID(stored: record.id))))
            }
            return failed
        }
    }

    // MARK: - Internals

    static func activeJob(_ db: Database, vm uuid: UUID) throws -> JobInfo? {
        try fetchJobs(
            db, where: ["job.vm_uuid = ?", "job.state IN (?, ?)"],
            arguments: [uuid.catalogText, JobState.queued.rawValue, JobState.running.rawValue], limit: 1
        ).first
    }

    static func nextQueuedTask(
        _ db: Database, agentID: Int64, now: Date, limits: JobLimits = JobLimits()
    ) throws -> JobRecord? {
        let running = JobState.running.rawValue
        if let perHost = limits.perHost {
            let busy = try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM job JOIN agent ON agent.host = job.host COLLATE NOCASE
                    WHERE agent.id = ? AND job.state = ? AND job.parameters IS NOT NULL
                    """,
                arguments: [agentID, running]) ?? 0
            if busy >= perHost { return nil }
        }
        return try JobRecord.fetchOne(
            db,
            sql: """
                SELECT job.* FROM job JOIN vm ON vm.uuid = job.vm_uuid
                WHERE job.state = ? AND job.parameters IS NOT NULL
                  AND ((job.target_host IS NULL AND vm.host_id = ?)
                       OR job.target_host = (SELECT host FROM agent WHERE id = ?) COLLATE NOCASE)
                  AND (job.start_at IS NULL OR job.start_at <= ?)
                  AND (SELECT COUNT(*) FROM job other WHERE other.state = ? AND other.parameters IS NOT NULL
                         AND other.datastore_id = job.datastore_id) < ?
                ORDER BY job.created_at, job.id
                LIMIT 1
                """,
            arguments: [JobState.queued.rawValue, agentID, agentID, now, running, limits.perDatastore ?? Int.max])
    }

    static func runningTasks(_ db: Database, host: String) throws -> [JobRecord] {
        try JobRecord.fetchAll(
            db,
            sql: """
                SELECT * FROM job
                WHERE host = ? COLLATE NOCASE AND state = ? AND parameters IS NOT NULL
                ORDER BY created_at, id
                """,
            arguments: [host, JobState.running.rawValue])
    }

    /// The task `id` when it is `host`'s and running.
    static func runningTaskRecord(_ db: Database, id: JobID, host: String) throws -> JobRecord {
        guard let record = try JobRecord.fetchOne(db, key: id.description), record.parameters != nil,
            let owner = record.host, owner.lowercased() == host.lowercased()
        else {
            // Another host's task is reported as missing, not as forbidden: an agent learns nothing about VMs
            // that are not on its host.
            throw CatalogError(.notFound, "no task \(id) for host \(host); the task ids come from GET /v1/agent/tasks/next")
        }
        let state = try stored(record.state, as: JobState.self)
        guard state == .running else {
            throw CatalogError(
                .conflict,
                "task \(id) is \(state)\(record.error.map { " (\($0))" } ?? ""); stop working on it, nothing more is recorded for it")
        }
        return record
    }

    /// Ends a job in `state` with `error`, and logs why.
    static func end(_ db: Database, _ record: inout JobRecord, as state: JobState, error: String?, now: Date) throws {
        record.state = state.rawValue
        record.endedAt = now
        if state == .succeeded { record.progress = 1 }
        if let error { record.error = error }
        try record.update(db)
        let id = try JobID(uuid: UUID(stored: record.id))
        switch state {
        case .failed: try log(db, id, .error, "failed: \(error ?? "no reason given")", at: now)
        case .cancelled: try log(db, id, .warning, "cancelled: \(error ?? "no reason given")", at: now)
        default: break
        }
    }

    static func log(_ db: Database, _ id: JobID, _ level: JobLogLevel, _ message: String, at time: Date) throws {
        try db.execute(
            sql: "INSERT INTO job_log (job_id, time, level, message) VALUES (?, ?, ?, ?)",
            arguments: [id.description, time, level.rawValue, message])
    }

    static func taskInfo(_ db: Database, _ record: JobRecord) throws -> TaskInfo {
        let id = try JobID(uuid: UUID(stored: record.id))
        let parameters = try decodeParameters(record)
        guard let vmText = record.vmUuid, let vm = try VMRecord.fetchOne(db, key: vmText) else {
            throw CatalogError(.conflict, "the VM of task \(id) is no longer in the catalog; the task cannot run")
        }
        guard let datastoreID = record.datastoreId, let store = try DatastoreRecord.fetchOne(db, key: datastoreID) else {
            throw CatalogError(.conflict, "the datastore of task \(id) was removed; the task cannot store its point")
        }
        var groupName: ResourceName?
        var retentionDays = parameters.retentionDays
        if let groupID = record.groupId, let group = try GroupRecord.fetchOne(db, key: groupID) {
            groupName = try ResourceName(stored: group.name)
            retentionDays = try decodePolicy(group).retentionDays
        }
        var base: TaskInfo.Base?
        if parameters.command != .restore, let point = try fetchPoints(
            db, where: "rp.vm_uuid = ? AND rp.datastore_id = ? AND rp.state IN (?, ?)",
            arguments: [vmText, datastoreID, RecoveryPointState.committed.rawValue, RecoveryPointState.verified.rawValue],
            order: "rp.created_at DESC, rp.id DESC", limit: 1
        ).first {
            var checkpoint: CheckpointInfo?
            if let name = point.checkpointName {
                // A checkpoint found invalid must not be trusted for an incremental: without it the agent runs a
                // consistency check against the base index instead.
                checkpoint = try CheckpointRecord.fetchOne(
                    db, sql: "SELECT * FROM checkpoint WHERE vm_uuid = ? AND name = ? AND state != ?",
                    arguments: [vmText, name, CheckpointState.invalid.rawValue]
                ).map { try $0.info() }
            }
            base = TaskInfo.Base(point: point, checkpoint: checkpoint)
        }
        let path: AbsolutePath
        do {
            path = try AbsolutePath(parsing: store.path)
        } catch {
            throw CatalogError(.corrupt, "the catalog holds an invalid datastore path '\(store.path)'; restore it from a backup")
        }
        return TaskInfo(
            job: try fetchJob(db, id: id), host: record.host, vmUUID: try UUID(stored: vm.uuid), vmName: vm.name,
            parameters: parameters, datastore: try ResourceName(stored: store.name), datastorePath: path,
            chunkSize: store.chunkSize, group: groupName, retentionDays: retentionDays,
            cancelRequested: record.cancelRequested, heartbeatAt: record.heartbeatAt, acknowledged: record.acknowledged,
            base: base)
    }

    static func encode(_ parameters: TaskParameters) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(parameters), as: UTF8.self)
    }

    static func decodeParameters(_ record: JobRecord) throws -> TaskParameters {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        do {
            return try decoder.decode(TaskParameters.self, from: Data((record.parameters ?? "").utf8))
        } catch {
            throw CatalogError(
                .corrupt,
                "the parameters of job \(record.id) cannot be read (\(error)); cancel the job and start a new one")
        }
    }
}

extension JobRecord {
    /// The byte counts the agent reported, once it reported a total.
    var bytes: TaskProgress? {
        bytesTotal.map { TaskProgress(bytesTotal: $0, bytesScanned: bytesScanned ?? 0, bytesSent: bytesSent ?? 0) }
    }
}
