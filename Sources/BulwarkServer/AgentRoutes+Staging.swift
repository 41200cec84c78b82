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
        let vm = task.vmUUID
        do {
            let report = try await runBlocking {
                let store = try Datastore.open(at: path)
                let report = try store.promoteStagedChunks(of: job, checking: false)
                // The VM's next sync counts them as present; no other VM's query ever does.
                try store.recordUploads(report.digests, vm: vm)
                return report
            }
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
                var job: JobInfo?
                if let id = JobID(name) { job = try? await catalog.job(id: id).job }
                if job?.state == .running { continue }
                let vm = job?.vmUUID
                let report = try await runBlocking {
                    let report = try store.promoteStagedChunks(of: name, checking: false)
                    if let vm { try store.recordUploads(report.digests, vm: vm) }
                    return report
                }
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
                let store = try await runBlocking { try Datastore.open(at: path) }
                var owners: [String: UUID] = [:]
                for name in try await runBlocking({ try store.stagingJobs() }) {
                    if let id = JobID(name), let vm = try? await catalog.job(id: id).job.vmUUID { owners[name] = vm }
                }
                let reports = try await runBlocking { [owners] in
                    try store.stagingJobs().map { name in
                        let report = try store.promoteStagedChunks(of: name, checking: true)
                        if let vm = owners[name] { try store.recordUploads(report.digests, vm: vm) }
                        return (name, report)
                    }
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
