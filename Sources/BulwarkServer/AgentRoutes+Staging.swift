import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging

/// Staged chunks (see `Datastore+Staging`) become the datastore's chunks when their job commits or ends.
extension AgentRoutes {
    /// Promotes a task's staged chunks after it ended without a point, so that the next sync reuses them.
    ///
    /// A failure here loses nothing: the next task in the datastore, or the next start of bulwarkd, tries again.
    static func promoteStagedChunks(of task: TaskInfo, logger: Logger) async {
        let path = task.datastorePath.path
        let job = task.job.id.description
        do {
            let report = try await runBlocking { try Datastore.open(at: path).promoteStagedChunks(of: job, checking: false) }
            if report.promoted > 0 { logger.debug("uploaded chunks kept for the next sync", metadata: ["chunks": "\(report.promoted)"]) }
        } catch {
            logger.warning("the chunks this task uploaded stay staged until the next task in its datastore: \(error)")
        }
    }

    /// Promotes the staged chunks of every job in `store` that no longer runs: the jobs whose end no finish report
    /// announced (an agent that died, a task failed for a lost agent).
    func promoteStagedChunksOfEndedJobs(in store: Datastore, logger: Logger) async {
        do {
            for name in try await runBlocking({ try store.stagingJobs() }) {
                if let id = JobID(name), let job = try? await catalog.job(id: id).job, job.state == .running { continue }
                let report = try await runBlocking { try store.promoteStagedChunks(of: name, checking: false) }
                logger.info(
                    "kept the chunks an ended job uploaded", metadata: ["ended-job": "\(name)", "chunks": "\(report.promoted)"])
            }
        } catch {
            logger.warning("staged chunks of ended jobs in \(store.root) stay staged: \(error)")
        }
    }

    /// At start, before any agent may call: checks and promotes what every job staged before bulwarkd stopped.
    ///
    /// A crash or power cut may have left staged files that were never flushed, so each one is decoded and its
    /// SHA-256 checked; the damaged ones are dropped (their sync failed anyway, and the next one sends them again).
    static func recoverStagedChunks(catalog: Catalog, logger: Logger) async throws {
        for datastore in try await catalog.datastores() {
            let path = datastore.path.path
            do {
                let reports = try await runBlocking {
                    let store = try Datastore.open(at: path)
                    return try store.stagingJobs().map { ($0, try store.promoteStagedChunks(of: $0, checking: true)) }
                }
                for (job, report) in reports {
                    logger.notice(
                        "kept the chunks a job uploaded before bulwarkd stopped",
                        metadata: [
                            "datastore": "\(datastore.name)", "ended-job": "\(job)", "chunks": "\(report.promoted)",
                            "damaged": "\(report.dropped)",
                        ])
                }
            } catch {
                logger.warning("staged chunks in datastore \(datastore.name) at \(path) stay staged: \(error)")
            }
        }
    }
}
