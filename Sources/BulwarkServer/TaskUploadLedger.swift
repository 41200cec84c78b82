import BulwarkCore

/// Bytes of new chunk files each running task added to its datastore: the `storedBytes` of the point it commits.
///
/// Kept in memory because it only matters until the commit, and a task does not outlive the server process
/// (jobs left running when bulwarkd stops are failed on the next start); one catalog write per chunk would cost
/// more than the whole count is worth.
actor TaskUploadLedger {
    private var stored: [JobID: Int64] = [:]

    /// Counts a chunk file the task's upload wrote.
    func add(_ bytes: Int, for task: JobID) {
        stored[task, default: 0] += Int64(bytes)
    }

    /// What the task stored so far.
    func storedBytes(for task: JobID) -> Int64 {
        stored[task] ?? 0
    }

    /// Forgets a task that ended.
    func forget(_ task: JobID) {
        stored[task] = nil
    }
}
