import BulwarkCatalog
import BulwarkCore

/// Running tasks as the catalog gave them in the last second, for the routes an agent calls once per chunk.
///
/// A sync or a restore makes several calls for each 4 MiB chunk (query, upload or fetch), and building a task from
/// the catalog takes six queries and a JSON decode: a tenth of bulwarkd's CPU time for a full backup. What those
/// routes need (whose task it is, its kind, datastore and point) does not change while the task runs. A task that
/// ended is dropped when its end is reported here; one the server ended itself (an orphan, a cancelled job) is
/// seen as ended at most ``lifetime`` later, and all a chunk call can do meanwhile is stage or read a chunk.
actor RunningTaskCache {
    static let lifetime: Duration = .seconds(1)

    private struct Key: Hashable {
        let task: JobID
        let host: String
    }

    private var entries: [Key: (task: TaskInfo, loaded: ContinuousClock.Instant)] = [:]

    /// The task `id` of `host`, from the cache when it was loaded less than ``lifetime`` ago, else from `load`.
    func task(id: JobID, host: String, load: @Sendable () async throws -> TaskInfo) async throws -> TaskInfo {
        let key = Key(task: id, host: host.lowercased())
        let now = ContinuousClock.now
        if let entry = entries[key], now - entry.loaded < Self.lifetime { return entry.task }
        let task = try await load()
        // Until the claim is acknowledged, each call must see it unacknowledged and record it; only then is it kept.
        if task.acknowledged {
            if entries.count > 1024 { entries = entries.filter { now - $0.value.loaded < Self.lifetime } }
            entries[key] = (task, now)
        }
        return task
    }

    /// Drops task `id`, which ended.
    func forget(_ id: JobID) {
        entries = entries.filter { $0.key.task != id }
    }
}
