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
    let datastores: Datastores
    let interval: Duration
    let logger: Logger
    let clock: @Sendable () -> Date

    init(
        catalog: Catalog, datastores: Datastores, interval: Duration, logger: Logger,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.catalog = catalog
        self.datastores = datastores
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// What one pass did.
    struct Report: Sendable {
        var pruned: [RecoveryPointID] = []
        var failed: [RecoveryPointID] = []
        var collected: [ResourceName] = []
        /// Listed as due, then taken by a reader (a lease, a restore) before the prune's own transaction: pruned by a
        /// later pass.
        var kept: [RecoveryPointID] = []
    }

    func run() async throws {
        try await runPeriodically(every: interval, logger: logger, what: "retention") { _ = try await pass(now: clock()) }
    }

    /// Prunes what retention lets go at `now`, then collects garbage where points went.
    ///
    /// Each point is forgotten by ``Catalog/prunePoint(id:now:)``, which checks leases and restores in the
    /// transaction that deletes the row; its files go after, so a reader that took its lease first never loses them.
    func pass(now: Date) async throws -> Report {
        var report = Report()
        await Reconciliation(catalog: catalog, datastores: datastores, logger: logger).run(now: now)
        let points = try await catalog.prunablePoints(now: now)
        guard !points.isEmpty else { return report }
        let job = try await catalog.createJob(NewJob(kind: .prune, subject: "retention", createdAt: now))
        _ = try await catalog.updateJob(id: job.id, JobUpdate(state: .running, phase: .transfer), at: now)
        let paths = try await datastores.catalogPaths()
        for point in points {
            let reference = RecoveryPointRef(vm: point.vmUUID, point: point.id)
            do {
                guard try await catalog.prunePoint(id: point.id, now: now) else {
                    report.kept.append(point.id)
                    _ = try await catalog.appendJobLog(
                        id: job.id, level: .info,
                        message: "kept point \(point.id) of \(point.vmName): a reader took it since the pass began; a later pass prunes it",
                        at: now)
                    continue
                }
                report.pruned.append(point.id)
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .info,
                    message: "pruned point \(point.id) of \(point.vmName) from \(point.createdAt.formatted(.iso8601)), kept until \(point.retainUntil.formatted(.iso8601))",
                    at: now)
            } catch {
                report.failed.append(point.id)
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .error, message: "cannot prune point \(point.id) of \(point.vmName): \(error)", at: now)
                continue
            }
            guard let path = paths[point.datastore] else { continue }
            do {
                try await datastores.discardPoint(reference, at: path)
            } catch {
                // The row is gone, so the files are only space: the start-up reconciliation collects them.
                _ = try await catalog.appendJobLog(
                    id: job.id, level: .warning,
                    message: "the files of pruned point \(point.id) of \(point.vmName) remain: \(error); the next start of bulwarkd collects them",
                    at: now)
            }
        }
        let pruned = Set(report.pruned)
        for name in Set(points.filter { pruned.contains($0.id) }.map(\.datastore)).sorted(by: { $0.rawValue < $1.rawValue }) {
            guard let path = paths[name] else { continue }
            do {
                let writers = try await catalog.oldestRunningWriter(datastore: name)
                let result = try await datastores.withStore(at: path, fresh: true) {
                    try $0.collectGarbage(
                        gracePeriod: InventoryRoutes.gcGracePeriod, now: now, writersSince: writers)
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
