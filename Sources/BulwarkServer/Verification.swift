import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import ServiceLifecycle

/// Verification, unattended and on request: reads back every chunk a point uses, checks it against its digest,
/// and records in the catalog which points are whole (`verified`) and which are not (`damaged`, which also keeps
/// them from being the base of the next sync, so that sync stores the lost data again).
///
/// Each pass verifies what ``Catalog/pointsToVerify(now:newPoints:reverifyAfter:limit:)`` says is owed: new points
/// soon after their commit (`--verify-new`), and every point again once its last verify is older than
/// `--reverify-after`. Every run, scheduled or an admin's, is a `verify` job with a log line per datastore.
struct Verification: Service {
    let catalog: Catalog
    let stores: Datastores
    let interval: Duration
    let newPoints: Bool
    let reverifyAfter: TimeSpan?
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        catalog: Catalog, stores: Datastores, interval: Duration, newPoints: Bool, reverifyAfter: TimeSpan?,
        logger: Logger, clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.catalog = catalog
        self.stores = stores
        self.interval = interval
        self.newPoints = newPoints
        self.reverifyAfter = reverifyAfter
        self.logger = logger
        self.clock = clock
    }

    /// Whether the configuration asks for any unattended verification.
    var isEnabled: Bool { newPoints || reverifyAfter != nil }

    func run() async throws {
        logger.info(
            "verification running",
            metadata: ["new-points": "\(newPoints)", "reverify-after": "\(reverifyAfter?.description ?? "never")"])
        try await runPeriodically(every: interval, logger: logger, what: "verification") { _ = try await pass(now: clock()) }
    }

    /// Verifies what is owed at `now`; nil when nothing was.
    func pass(now: Date) async throws -> (job: JobInfo, reports: [MaintenanceReport])? {
        let due = try await catalog.pointsToVerify(
            now: now, newPoints: newPoints, reverifyAfter: reverifyAfter.map { TimeInterval($0.seconds) })
        guard !due.isEmpty else { return nil }
        let byDatastore = Dictionary(grouping: due, by: \.datastore)
        let datastores = try await catalog.datastores().filter { byDatastore[$0.name] != nil }
        let result = try await Self.verify(
            catalog: catalog, stores: stores, datastores: datastores,
            points: byDatastore.mapValues { $0.map { RecoveryPointRef(vm: $0.vmUUID, point: $0.id) } },
            subject: "scheduled verification", now: now)
        logger.info(
            "verification pass", metadata: ["job": "\(result.job.id)", "points": "\(due.count)", "state": "\(result.job.state)"])
        return result
    }

    /// Verifies, as one `verify` job, `points` of each of `datastores` (every point a datastore holds where `points`
    /// names none for it), records what was found in the catalog, and returns a report per datastore.
    ///
    /// A datastore that cannot be read (its disk went away) gets a report that says so and does not stop the others.
    static func verify(
        catalog: Catalog, stores: Datastores, datastores: [DatastoreInfo], points: [ResourceName: [RecoveryPointRef]] = [:],
        subject: String, now: @autoclosure () -> Date = Date()
    ) async throws -> (job: JobInfo, reports: [MaintenanceReport]) {
        let job = try await catalog.createJob(
            NewJob(
                kind: .verify, subject: subject, datastore: datastores.count == 1 ? datastores[0].name : nil,
                createdAt: now()))
        _ = try await catalog.updateJob(id: job.id, JobUpdate(state: .running, phase: .transfer), at: now())
        var reports: [MaintenanceReport] = []
        var damagedCount = 0
        var unreadable = 0
        for (index, datastore) in datastores.enumerated() {
            let path = datastore.path.path
            let name = datastore.name
            let chosen = points[name]
            do {
                // A read-only datastore is another server's: its damaged chunks are reported, not moved aside.
                let quarantine = !datastore.readOnly
                let (checked, report) = try await stores.withStore(at: path, fresh: true) { store in
                    let checked = try chosen ?? store.listRecoveryPoints()
                    return (checked, try store.verify(points: checked, quarantine: quarantine))
                }
                let damaged = Set(report.damagedPoints.map(\.point))
                try await catalog.recordVerification(
                    whole: checked.filter { !damaged.contains($0) }.map(\.point), damaged: damaged.map(\.point),
                    at: now())
                damagedCount += damaged.count
                let summary = "\(report.pointsChecked) points, \(report.chunksChecked) chunks "
                    + "(\(ByteCount.approximate(Int64(clamping: report.bytesChecked)))) checked; "
                    + "\(report.badChunks.count) damaged chunks"
                var lines = ["datastore \(name): \(summary)"]
                for chunk in report.badChunks {
                    lines.append(
                        "datastore \(name): chunk \(chunk.digest) \(chunk.code): \(chunk.message); used by "
                            + chunk.points.map(\.description).joined(separator: ", ")
                            + (chunk.quarantined ? "; moved aside so the next sync stores it again" : ""))
                }
                for point in report.damagedPoints {
                    lines.append(
                        "datastore \(name): point \(point.point) is damaged"
                            + (point.problems.isEmpty ? "" : ": " + point.problems.joined(separator: "; ")))
                }
                for line in lines {
                    _ = try await catalog.appendJobLog(
                        id: job.id, level: report.isClean ? .info : .error, message: line, at: now())
                }
                reports.append(
                    MaintenanceReport(
                        datastore: name.rawValue, summary: summary, damagedChunks: report.badChunks.map(\.digest.description),
                        damagedPoints: report.damagedPoints.map(\.point.description), ok: report.isClean,
                        job: job.id.description))
            } catch {
                unreadable += 1
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .error, message: "datastore \(name) at \(path) cannot be verified: \(error)",
                    at: now())
                reports.append(
                    MaintenanceReport(
                        datastore: name.rawValue, summary: "cannot run: \(error)", ok: false, job: job.id.description))
            }
            _ = try await catalog.updateJob(
                id: job.id, JobUpdate(progress: Double(index + 1) / Double(max(1, datastores.count))), at: now())
        }
        var problems: [String] = []
        if damagedCount > 0 { problems.append("\(damagedCount) damaged points") }
        if unreadable > 0 { problems.append("\(unreadable) datastores could not be read") }
        let ended = try await catalog.updateJob(
            id: job.id,
            JobUpdate(
                state: problems.isEmpty ? .succeeded : .succeededWithWarnings, progress: 1,
                error: problems.isEmpty ? nil : problems.joined(separator: ", ") + "; see the log"),
            at: now())
        return (ended, reports)
    }
}
