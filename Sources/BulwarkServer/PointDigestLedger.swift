import BulwarkCore
import BulwarkStore

/// The digests of the point each running task reads, loaded once per task: a restore's point, whose chunks alone it
/// may fetch, or a sync's base, whose chunks alone a chunk query answers as present.
///
/// Limiting both to the task's own point keeps the datastore from being an oracle: an agent learns nothing about
/// chunks of other VMs (whether some VM holds a given block of data), whatever digests it asks about.
actor PointDigestLedger {
    private var digests: [JobID: Set<ChunkDigest>] = [:]

    func digests(of task: JobID, load: @Sendable () async throws -> Set<ChunkDigest>) async throws -> Set<ChunkDigest> {
        if let known = digests[task] { return known }
        let loaded = try await load()
        digests[task] = loaded
        return loaded
    }

    func forget(_ task: JobID) { digests[task] = nil }
}
