import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging

/// Compares each datastore with the catalog and collects complete points the catalog does not list.
///
/// The catalog row is a point's commit: files without a row are left by a crash between the files and the row (a
/// commit whose row never came, a prune or `--delete-data` that removed the row and died before the files). Such
/// a point is reported (a `datastore-orphan-points` alert, resolved when none is left) and removed once its
/// manifest is older than ``grace``: long enough for a commit in progress, and for an admin who restored an older
/// catalog to notice and act before anything goes. Run when bulwarkd starts and by each retention pass.
struct Reconciliation: Sendable {
    /// How old an unlisted point must be before it is removed.
    static let grace: TimeInterval = 7 * 86_400

    let catalog: Catalog
    let datastores: Datastores
    let logger: Logger

    /// What one datastore held that the catalog does not list.
    struct Report: Sendable, Equatable {
        var orphans: [RecoveryPointRef] = []
        var removed: [RecoveryPointRef] = []
    }

    /// Reconciles every datastore; one that cannot be read is skipped (the alert monitor reports it).
    @discardableResult
    func run(now: Date = Date()) async -> [ResourceName: Report] {
        var reports: [ResourceName: Report] = [:]
        let datastores: [DatastoreInfo]
        do {
            datastores = try await catalog.datastores()
        } catch {
            logger.warning("cannot list the datastores to reconcile: \(error)")
            return reports
        }
        for datastore in datastores {
            do {
                reports[datastore.name] = try await reconcile(datastore, now: now)
            } catch {
                logger.warning("cannot reconcile a datastore with the catalog", metadata: ["datastore": "\(datastore.name)", "error": "\(error)"])
            }
        }
        return reports
    }

    func reconcile(_ datastore: DatastoreInfo, now: Date) async throws -> Report {
        let listed = try await catalog.recoveryPointIDs(datastore: datastore.name)
        let path = datastore.path.path
        var report = try await datastores.withStore(at: path, fresh: true) { store throws -> Report in
            var report = Report()
            for point in try store.listRecoveryPoints() where !listed.contains(point.point) {
                report.orphans.append(point)
                let made = (try? store.readManifest(point).createdAt) ?? .distantPast
                if !datastore.readOnly, now.timeIntervalSince(made) > Self.grace {
                    try store.deleteRecoveryPoint(point)
                    report.removed.append(point)
                }
            }
            return report
        }
        // A point committed between the listing of rows and of folders is not an orphan: look again.
        let stillListed = try await catalog.recoveryPointIDs(datastore: datastore.name)
        report.orphans.removeAll { stillListed.contains($0.point) }
        let subject = "datastore \(datastore.name)"
        let left = report.orphans.count - report.removed.count
        if !report.removed.isEmpty {
            logger.notice(
                "removed recovery points the catalog does not list",
                metadata: ["datastore": "\(datastore.name)", "points": "\(report.removed.map(\.description).joined(separator: ", "))"])
        }
        if left > 0 {
            let waiting = report.orphans.filter { !report.removed.contains($0) }
            try await catalog.raiseAlert(
                kind: .datastoreOrphanPoints, severity: .warning, subject: subject,
                message: "datastore \(datastore.name) at \(path) holds \(left) complete recovery point(s) the catalog does not list (such as \(waiting[0])): left by a crash between a point's files and its catalog row, or the catalog is older than the datastore. They are removed \(Int(Self.grace / 86_400)) days after they were made; to keep them, copy their folders away first",
                at: now)
        } else {
            try await catalog.resolveAlerts(kind: .datastoreOrphanPoints, subject: subject, at: now)
        }
        return report
    }
}
