import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import ServiceLifecycle

/// Retention and its clean-up, unattended: each pass prunes the points retention lets go (``Catalog/prunablePoints(now:)``)
/// and then collects the garbage of the datastores that lost points, each as a job with its log.
struct Maintenance: Service {
    let catalog: Catalog
    let interval: Duration
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Points in use now (served over NBD for a browse or a restore): kept until they are no longer.
    let inUse: @Sendable () async -> Set<RecoveryPointID>

    init(
        catalog: Catalog, interval: Duration, logger: Logger, clock: @escaping @Sendable () -> Date = { Date() },
        inUse: @escaping @Sendable () async -> Set<RecoveryPointID> = { [] }
    ) {
        self.catalog = catalog
        self.interval = interval
        self.logger = logger
        self.clock = clock
        self.inUse = inUse
    }

    /// What one pass did.
    struct Report: Sendable {
        var pruned: [RecoveryPointID] = []
        var failed: [RecoveryPointID] = []
        var collected: [ResourceName] = []
        /// Past their retention but in use (served over NBD): pruned by a later pass.
        var kept: [RecoveryPointID] = []
    }

    func run() async throws {
        try await runPeriodically(every: interval, logger: logger, what: "retention") { _ = try await pass(now: clock()) }
    }

    /// Prunes what retention lets go at `now`, then collects garbage where points went.
    func pass(now: Date) async throws -> Report {
        var report = Report()
        let due = try await catalog.prunablePoints(now: now)
        let busy = await inUse()
        let points = due.filter { !busy.contains($0.id) }
        report.kept = due.filter { busy.contains($0.id) }.map(\.id)
        if !report.kept.isEmpty {
            logger.info(
                "retention keeps points in use until they are released",
                metadata: ["points": "\(report.kept.map(\.description).joined(separator: ", "))"])
        }
        guard !points.isEmpty else { return report }
        let job = try await catalog.createJob(NewJob(kind: .prune, subject: "retention", createdAt: now))
        _ = try await catalog.updateJob(id: job.id, JobUpdate(state: .running, phase: .transfer), at: now)
        var paths: [ResourceName: String] = [:]
        for datastore in try await catalog.datastores() { paths[datastore.name] = datastore.path.path }
        for point in points {
            guard let path = paths[point.datastore] else { continue }
            let reference = RecoveryPointRef(vm: point.vmUUID, point: point.id)
            do {
                // Files first: a point the catalog lists must be restorable; files the catalog no longer lists
                // are only space, which the next pass or garbage collection frees.
                try await runBlocking {
                    do {
                        try Datastore.open(at: path).deleteRecoveryPoint(reference)
                    } catch let error as DatastoreError where error.code == .pointNotFound {
                        // Gone already (a pass that stopped half-way): the catalog row is what remains.
                    }
                }
                try await catalog.deleteRecoveryPoint(id: point.id)
                report.pruned.append(point.id)
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .info,
                    message: "pruned point \(point.id) of \(point.vmName) from \(point.createdAt.formatted(.iso8601)), kept until \(point.retainUntil.formatted(.iso8601))",
                    at: now)
            } catch {
                report.failed.append(point.id)
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .error, message: "cannot prune point \(point.id) of \(point.vmName): \(error)", at: now)
            }
        }
        let pruned = Set(report.pruned)
        for name in Set(points.filter { pruned.contains($0.id) }.map(\.datastore)).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let path = paths[name] else { continue }
            do {
                let result = try await runBlocking {
                    try Datastore.open(at: path).collectGarbage(gracePeriod: InventoryRoutes.gcGracePeriod, now: now)
                }
                report.collected.append(name)
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .info,
                    message: "datastore \(name): \(result.chunksRemoved) chunks (\(ByteCount.approximate(Int64(clamping: result.bytesRemoved)))) freed, \(result.chunksKeptForGracePeriod) kept for the grace period",
                    at: now)
            } catch {
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .error, message: "garbage collection of datastore \(name) failed: \(error)", at: now)
            }
        }
        let failed = report.failed.isEmpty ? nil : "\(report.failed.count) of \(points.count) points could not be pruned; see the log"
        _ = try await catalog.updateJob(
            id: job.id, JobUpdate(state: failed == nil ? .succeeded : .succeededWithWarnings, progress: 1, error: failed), at: now)
        logger.info("retention pass", metadata: ["job": "\(job.id)", "pruned": "\(report.pruned.count)", "failed": "\(report.failed.count)"])
        return report
    }
}
