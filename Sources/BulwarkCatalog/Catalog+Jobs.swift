public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// Creates a job in state `queued`.
    @discardableResult
    public func createJob(_ job: NewJob) async throws -> JobInfo {
        try await write { db in
            if try JobRecord.exists(db, key: job.id.description) {
                throw CatalogError(.alreadyExists, "job \(job.id) already exists")
            }
            var vmUUID: String?
            if let uuid = job.vmUUID { vmUUID = try Self.vmRecord(db, uuid: uuid).uuid }
            let groupID = try job.group.map { try Self.groupRecord(db, named: $0).id! }
            let datastoreID = try job.datastore.map { try Self.datastoreRecord(db, named: $0).id! }
            try JobRecord(
                id: job.id.description, kind: job.kind.rawValue, subject: job.subject, vmUuid: vmUUID,
                groupId: groupID, datastoreId: datastoreID, state: JobState.queued.rawValue, phase: nil,
                createdAt: job.createdAt, progress: 0
            ).insert(db)
            return try Self.fetchJob(db, id: job.id)
        }
    }

    /// Jobs, newest first.
    public func jobs(_ filter: JobFilter = JobFilter()) async throws -> [JobInfo] {
        try await read { db in
            var conditions: [String] = []
            var arguments = StatementArguments()
            if filter.activeOnly {
                conditions.append("job.state IN (?, ?)")
                arguments += [JobState.queued.rawValue, JobState.running.rawValue]
            }
            if let uuid = filter.vmUUID {
                conditions.append("job.vm_uuid = ?")
                arguments += [uuid.catalogText]
            }
            if let group = filter.group {
                // A group that does not exist is an error, not an empty history.
                let record = try Self.groupRecord(db, named: group)
                conditions.append("job.group_id = ?")
                arguments += [record.id]
            }
            if let states = filter.states, !states.isEmpty {
                let sorted = states.map(\.rawValue).sorted()
                conditions.append("job.state IN (\(sorted.map { _ in "?" }.joined(separator: ", ")))")
                arguments += StatementArguments(sorted)
            }
            return try Self.fetchJobs(db, where: conditions, arguments: arguments, limit: filter.limit)
        }
    }

    /// A job with its whole log.
    public func job(id: JobID) async throws -> JobDetail {
        try await read { db in
            JobDetail(job: try Self.fetchJob(db, id: id), log: try Self.fetchLog(db, id: id, after: nil))
        }
    }

    /// A job's log lines after `sequence` (all when nil), for following a running job.
    public func jobLog(id: JobID, after sequence: Int64? = nil) async throws -> [JobLogLine] {
        try await read { db in
            _ = try Self.fetchJob(db, id: id)
            return try Self.fetchLog(db, id: id, after: sequence)
        }
    }

    /// Appends a line to a job's log.
    @discardableResult
    public func appendJobLog(
        id: JobID, level: JobLogLevel, message: String, at time: Date = Date()
    ) async throws -> JobLogLine {
        try await write { db in
            _ = try Self.fetchJob(db, id: id)
            try db.execute(
                sql: "INSERT INTO job_log (job_id, time, level, message) VALUES (?, ?, ?, ?)",
                arguments: [id.description, time, level.rawValue, message])
            return JobLogLine(sequence: db.lastInsertedRowID, time: time, level: level, message: message)
        }
    }

    /// Moves a job on. Refuses a state change its ``JobState`` does not allow (a finished job never changes);
    /// sets `startedAt` when it starts running and `endedAt` when it finishes.
    @discardableResult
    public func updateJob(id: JobID, _ update: JobUpdate, at time: Date = Date()) async throws -> JobInfo {
        if let progress = update.progress, !(0...1).contains(progress) {
            throw CatalogError(.invalid, "job progress \(progress) is out of range; it is a fraction from 0 to 1")
        }
        return try await write { db in
            guard var record = try JobRecord.fetchOne(db, key: id.description) else {
                throw CatalogError(.notFound, "no job has id \(id); `bulwark jobs` lists jobs")
            }
            let current = try stored(record.state, as: JobState.self)
            if let next = update.state {
                guard current.canMove(to: next) else {
                    throw CatalogError(
                        .conflict,
                        "job \(id) is \(current) and cannot become \(next)" + (current.isFinished
                            ? "; a finished job does not change" : ""))
                }
                record.state = next.rawValue
                if next == .running, record.startedAt == nil { record.startedAt = time }
                if next.isFinished {
                    record.endedAt = time
                    if next == .succeeded { record.progress = 1 }
                }
            } else if current.isFinished {
                throw CatalogError(.conflict, "job \(id) is \(current); a finished job does not change")
            }
            if let phase = update.phase { record.phase = phase.rawValue }
            if let progress = update.progress { record.progress = progress }
            if let error = update.error { record.error = error }
            try record.update(db)
            return try Self.fetchJob(db, id: id)
        }
    }

    static func fetchJob(_ db: Database, id: JobID) throws -> JobInfo {
        guard let job = try fetchJobs(db, where: ["job.id = ?"], arguments: [id.description], limit: nil).first else {
            throw CatalogError(.notFound, "no job has id \(id); `bulwark jobs` lists jobs")
        }
        return job
    }

    static func fetchJobs(
        _ db: Database, where conditions: [String], arguments: StatementArguments, limit: Int?
    ) throws -> [JobInfo] {
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT job.*, pg.name AS group_name, ds.name AS datastore_name
                FROM job
                LEFT JOIN protection_group pg ON pg.id = job.group_id
                LEFT JOIN datastore ds ON ds.id = job.datastore_id
                \(filter)
                ORDER BY job.created_at DESC, job.id DESC
                \(limit.map { "LIMIT \(max(0, $0))" } ?? "")
                """,
            arguments: arguments)
        return try rows.map { row in
            let record = try JobRecord(row: row)
            let group: String? = row["group_name"]
            let datastore: String? = row["datastore_name"]
            return JobInfo(
                id: try JobID(uuid: UUID(stored: record.id)), kind: JobKind(rawValue: record.kind),
                subject: record.subject, vmUUID: try record.vmUuid.map { try UUID(stored: $0) },
                group: try group.map { try ResourceName(stored: $0) },
                datastore: try datastore.map { try ResourceName(stored: $0) },
                state: try stored(record.state, as: JobState.self),
                phase: try record.phase.map { try stored($0, as: JobPhase.self) }, createdAt: record.createdAt,
                startedAt: record.startedAt, endedAt: record.endedAt, error: record.error, progress: record.progress,
                host: record.host, bytes: record.bytes,
                recoveryPointID: try record.recoveryPointId.map { try RecoveryPointID(uuid: UUID(stored: $0)) },
                cancelRequested: record.cancelRequested, startAt: record.startAt, attempt: record.attempt,
                retryOf: try record.retryOf.map { try JobID(uuid: UUID(stored: $0)) })
        }
    }

    static func fetchLog(_ db: Database, id: JobID, after sequence: Int64?) throws -> [JobLogLine] {
        try JobLogRecord.fetchAll(
            db, sql: "SELECT * FROM job_log WHERE job_id = ? AND id > ? ORDER BY id",
            arguments: [id.description, sequence ?? 0]
        ).map { record in
            JobLogLine(
                sequence: record.id ?? 0, time: record.time, level: try stored(record.level, as: JobLogLevel.self),
                message: record.message)
        }
    }
}
