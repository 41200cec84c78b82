import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import ServiceLifecycle

/// Writes a consistent copy of the catalog into every datastore, regularly, so that a server rebuilt after losing
/// its data directory can learn from the datastore what it holds (groups, VMs, points, retention).
///
/// Each pass takes one snapshot with SQLite's online backup API (the server goes on writing meanwhile) and stores it
/// in each datastore (``Datastore/storeCatalogCopy(from:takenAt:)``: the bucket of an S3 datastore too), which
/// keeps the newest three. A datastore that cannot take it is logged and tried again on the next pass.
struct CatalogCopies: Service {
    let catalog: Catalog
    let datastores: Datastores
    let interval: Duration
    /// Where the snapshot is written before it goes into the datastores.
    let scratch: String
    /// Recorded with each copy as the datastore's writer (its heartbeat: see `Datastore.recordOwner`).
    let serverID: UUID
    let logger: Logger

    func run() async throws {
        try await runPeriodically(every: interval, logger: logger, what: "catalog copy") { _ = try await pass() }
    }

    /// Copies the catalog into every datastore now; returns the names of those that took it.
    func pass(now: Date = Date()) async throws -> [ResourceName] {
        // A datastore attached read-only is another server's to write.
        let targets = try await catalog.datastores().filter { !$0.readOnly }
        guard !targets.isEmpty else { return [] }
        let file = "\(scratch)/catalog-copy-\(UUID().uuidString.prefix(8)).sqlite"
        try await datastores.blocking { [catalog] in
            try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            try catalog.writeCopy(to: file)
        }
        defer { try? FileManager.default.removeItem(atPath: file) }
        var stored: [ResourceName] = []
        for datastore in targets {
            do {
                let owner = DatastoreOwner(server: serverID, heartbeat: now, interval: Int(interval.components.seconds))
                try await datastores.withStore(at: datastore.path.path) { store in
                    try store.storeCatalogCopy(from: file, takenAt: now)
                    try store.recordOwner(owner)
                }
                stored.append(datastore.name)
            } catch {
                logger.warning(
                    "the catalog copy did not reach datastore \(datastore.name) at \(datastore.path); the next pass tries again: \(error)")
            }
        }
        return stored
    }
}
