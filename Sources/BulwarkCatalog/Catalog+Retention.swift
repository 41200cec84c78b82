public import BulwarkCore
public import Foundation
import GRDB

extension Catalog {
    /// The points retention lets go at `now`, oldest first. See ``prunePoint(id:now:)`` for what is never let go.
    public func prunablePoints(now: Date = Date()) async throws -> [RecoveryPointInfo] {
        try await read { db in
            try Self.fetchPoints(
                db, where: Self.prunable, arguments: Self.prunableArguments(now),
                order: "rp.retain_until, rp.id", limit: nil)
        }
    }

    /// Forgets one point if retention still lets it go, in one transaction with the check; false when it is kept
    /// now (a lease or a restore took it since it was listed, or it became its VM's newest restorable point).
    ///
    /// Kept, whatever its `retain_until`: the newest committed or verified point of each VM in each datastore
    /// (what a restore can always fall back on, and the base the next sync there reads, whatever state newer
    /// points are in: a damaged newest point keeps the one before it), a point a queued or running restore reads,
    /// and a leased point. The row goes first and the caller deletes the files after: a point the catalog lists
    /// is always whole, and files left by a failure are only space (the start-up reconciliation collects them).
    public func prunePoint(id: RecoveryPointID, now: Date = Date()) async throws -> Bool {
        try await write { db in
            let due = try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM recovery_point rp WHERE rp.id = ? AND \(Self.prunable))",
                arguments: [id.description] + Self.prunableArguments(now)) ?? false
            guard due else { return false }
            try db.execute(sql: "DELETE FROM recovery_point WHERE id = ?", arguments: [id.description])
            return true
        }
    }

    /// Whether `rp` may go: past its retention, not read by a restore, not leased, and not the newest restorable
    /// point of its VM in its datastore.
    private static let prunable = """
        rp.retain_until < ?
        AND NOT EXISTS (SELECT 1 FROM job WHERE job.recovery_point_id = rp.id AND job.state IN (?, ?))
        AND NOT EXISTS (SELECT 1 FROM point_lease WHERE point_lease.recovery_point_id = rp.id)
        AND NOT EXISTS (SELECT 1 FROM datastore d WHERE d.id = rp.datastore_id AND d.read_only = 1)
        AND (rp.state NOT IN (?, ?)
             OR rp.id != (SELECT newest.id FROM recovery_point newest
                          WHERE newest.vm_uuid = rp.vm_uuid AND newest.datastore_id = rp.datastore_id
                            AND newest.state IN (?, ?)
                          ORDER BY newest.created_at DESC, newest.id DESC LIMIT 1))
        """

    private static func prunableArguments(_ now: Date) -> StatementArguments {
        let restorable = [RecoveryPointState.committed.rawValue, RecoveryPointState.verified.rawValue]
        return StatementArguments([now]) + StatementArguments([JobState.queued.rawValue, JobState.running.rawValue])
            + StatementArguments(restorable) + StatementArguments(restorable)
    }

    /// When the oldest job still writing to the datastore started (a sync, check, replica or seed), or nil: what
    /// garbage collection keeps every chunk newer than, whatever its grace period.
    public func oldestRunningWriter(datastore name: ResourceName) async throws -> Date? {
        try await read { db in
            let datastore = try Self.datastoreRecord(db, named: name)
            let writers = [JobKind.sync, .expressFull, .consistencyCheck, .initialReplica, .seed].map(\.rawValue)
            return try Date.fetchOne(
                db,
                sql: """
                    SELECT MIN(COALESCE(started_at, created_at)) FROM job
                    WHERE datastore_id = ? AND state = ? AND kind IN (\(writers.map { _ in "?" }.joined(separator: ",")))
                    """,
                arguments: StatementArguments([datastore.id]) + StatementArguments([JobState.running.rawValue])
                    + StatementArguments(writers))
        }
    }

    /// The ids of every point the catalog lists in the datastore: what the reconciliation compares the datastore's
    /// folders with.
    public func recoveryPointIDs(datastore name: ResourceName) async throws -> Set<RecoveryPointID> {
        try await read { db in
            let datastore = try Self.datastoreRecord(db, named: name)
            return Set(
                try String.fetchAll(db, sql: "SELECT id FROM recovery_point WHERE datastore_id = ?", arguments: [datastore.id])
                    .compactMap(RecoveryPointID.init))
        }
    }

    // MARK: - Leases

    /// Keeps `point` from retention and deletion until ``releasePointLease(_:)``; fails with `notFound` when the
    /// point is gone already, so a reader never starts on a point being deleted.
    public func leasePoint(_ point: RecoveryPointID, holder: String, now: Date = Date()) async throws -> String {
        try await write { db in
            _ = try Self.fetchPoint(db, id: point)
            let id = UUID().uuidString.lowercased()
            try db.execute(
                sql: "INSERT INTO point_lease (id, recovery_point_id, holder, taken_at) VALUES (?, ?, ?, ?)",
                arguments: [id, point.description, holder, now])
            return id
        }
    }

    /// Ends a lease; ending one that is gone changes nothing.
    public func releasePointLease(_ id: String) async throws {
        try await write { db in try db.execute(sql: "DELETE FROM point_lease WHERE id = ?", arguments: [id]) }
    }

    /// Ends every lease: called when bulwarkd starts, since nothing of the process that took them reads any more.
    @discardableResult
    public func clearPointLeases() async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM point_lease")
            return db.changesCount
        }
    }

    /// Why `point` cannot be deleted now, or nil: a lease or a restore reads it.
    static func pointInUse(_ db: Database, _ point: String) throws -> String? {
        if let holder = try String.fetchOne(
            db, sql: "SELECT holder FROM point_lease WHERE recovery_point_id = ? ORDER BY taken_at LIMIT 1", arguments: [point])
        {
            return "it is in use (\(holder))"
        }
        if let job = try String.fetchOne(
            db, sql: "SELECT id FROM job WHERE recovery_point_id = ? AND state IN (?, ?) LIMIT 1",
            arguments: [point, JobState.queued.rawValue, JobState.running.rawValue])
        {
            return "restore job \(job) reads it"
        }
        return nil
    }
}
