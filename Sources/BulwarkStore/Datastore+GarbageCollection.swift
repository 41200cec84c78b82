internal import BulwarkCore
public import Foundation

extension Datastore {
    /// Removes what no complete recovery point needs: unreferenced chunk files, temporary files of writers that
    /// died, quarantined chunks and incomplete point folders, each only once it is older than `gracePeriod`.
    ///
    /// Mark: every index of every complete point is read; if any manifest or index cannot be read, collection
    /// stops before removing anything, since it can no longer tell which chunks are needed. Sweep: a chunk file
    /// nothing references goes once its modification time is older than `now - gracePeriod`. Writers refresh that
    /// time whenever they reuse a chunk, so the grace period must outlast the longest sync: chunks a running sync
    /// uploaded or reused, but whose point is not committed yet, stay. Commits of points wait while collection runs
    /// (see `withLock`), and a commit whose chunk was swept anyway fails with `chunkMissing` rather than writing a
    /// point that cannot be restored.
    ///
    /// `writersSince` is when the oldest writer still running on this datastore started (a sync, a seed): the
    /// cut-off is the earlier of that and `now - gracePeriod`, so every chunk a running writer uploaded or counted
    /// on (a chunk query's hit refreshes the chunk's time) is kept however long the writer runs.
    public func collectGarbage(
        gracePeriod: Duration, now: Date = Date(), writersSince: Date? = nil
    ) throws(DatastoreError) -> GarbageCollectionReport {
        let seconds = Double(gracePeriod.components.seconds) + Double(gracePeriod.components.attoseconds) / 1e18
        let cutoff = min(now.addingTimeInterval(-seconds), writersSince ?? .distantFuture)
        return try withLock(exclusive: true) { () throws(DatastoreError) in
            var report = GarbageCollectionReport()
            if let objectStore { try replayDeletionJournal(to: objectStore) }
            let marked = try mark(&report)
            try removeIncompletePoints(olderThan: cutoff, &report)
            try sweepChunks(keeping: marked, olderThan: cutoff, &report)
            return report
        }
    }

    private func mark(_ report: inout GarbageCollectionReport) throws(DatastoreError) -> Set<ChunkDigest> {
        var marked = Set<ChunkDigest>()
        for point in try listRecoveryPoints() {
            do {
                let manifest = try readManifest(point)
                for disk in manifest.disks {
                    marked.formUnion(try readIndex(point, disk: disk.target, manifest: manifest).digests)
                }
            } catch {
                // A point deleted since the listing needs nothing; any other unreadable point stops collection.
                if !FileSystem.exists("\(pointPath(point))/\(Self.manifestName)") { continue }
                throw DatastoreError(
                    error.code,
                    "garbage collection stopped before removing anything: \(error.message) (collection cannot tell "
                        + "which chunks a point it cannot read needs; delete or repair that point, then run it again)",
                    digest: error.digest, cause: error)
            }
            report.pointsMarked += 1
        }
        marked.remove(zeroDigest)
        report.chunksReferenced = marked.count
        return marked
    }

    private func removeIncompletePoints(olderThan cutoff: Date, _ report: inout GarbageCollectionReport) throws(DatastoreError) {
        for vm in try listVMs() {
            let vmFolder = vmPath(vm)
            var removed = false
            for name in try FileSystem.list(vmFolder) ?? [] {
                let path = "\(vmFolder)/\(name)"
                guard let status = FileSystem.status(path) else { continue }
                if name.contains(FileSystem.temporaryInfix), status.modified < cutoff {
                    try FileSystem.removeTree(path)
                    report.temporaryFilesRemoved += 1
                    report.bytesRemoved += status.size
                    removed = true
                } else if RecoveryPointID(name) != nil, status.isDirectory {
                    if FileSystem.exists("\(path)/\(Self.manifestName)") {
                        try removeTemporaryFiles(in: path, olderThan: cutoff, &report)
                    } else if status.modified < cutoff {
                        // The folder's time is that of its last change, so a writer still adding files keeps it.
                        try FileSystem.removeTree(path)
                        report.incompletePointsRemoved += 1
                        removed = true
                    }
                }
            }
            if removed { try FileSystem.syncDirectory(vmFolder) }
        }
    }

    private func removeTemporaryFiles(
        in folder: String, olderThan cutoff: Date, _ report: inout GarbageCollectionReport
    ) throws(DatastoreError) {
        for name in try FileSystem.list(folder) ?? [] where name.contains(FileSystem.temporaryInfix) {
            let path = "\(folder)/\(name)"
            guard let status = FileSystem.status(path), status.modified < cutoff else { continue }
            if try FileSystem.remove(path) {
                report.temporaryFilesRemoved += 1
                report.bytesRemoved += status.size
            }
        }
    }

    private func sweepChunks(
        keeping marked: Set<ChunkDigest>, olderThan cutoff: Date, _ report: inout GarbageCollectionReport
    ) throws(DatastoreError) {
        // With an object store, the doomed names are gathered first and journalled, then removed, then their
        // objects deleted: a chunk's object never goes while its name is there for a sync to count on.
        var doomed: [(digest: ChunkDigest, path: String)] = []
        for prefix in (try FileSystem.list(chunksPath) ?? []).sorted() {
            let folder = "\(chunksPath)/\(prefix)"
            guard FileSystem.isDirectory(folder) else { continue }
            var removed = false
            for name in try FileSystem.list(folder) ?? [] {
                let path = "\(folder)/\(name)"
                if let digest = ChunkDigest(name) {
                    if marked.contains(digest) {
                        report.chunksKept += 1
                        continue
                    }
                    // Stat right before unlinking: a writer that reused the chunk a moment ago has refreshed its
                    // time, and the window between the two calls is as small as it gets without a lock per chunk.
                    guard let status = FileSystem.status(path) else { continue }
                    if status.modified >= cutoff {
                        report.chunksKept += 1
                        report.chunksKeptForGracePeriod += 1
                    } else if objectStore != nil {
                        doomed.append((digest, path))
                    } else if try FileSystem.remove(path) {
                        report.chunksRemoved += 1
                        report.bytesRemoved += status.size
                        removed = true
                    }
                } else if name.contains(FileSystem.temporaryInfix) || name.hasSuffix(Self.quarantineSuffix) {
                    guard let status = FileSystem.status(path), status.modified < cutoff else { continue }
                    if try FileSystem.remove(path) {
                        if name.hasSuffix(Self.quarantineSuffix) {
                            report.quarantinedFilesRemoved += 1
                        } else {
                            report.temporaryFilesRemoved += 1
                        }
                        report.bytesRemoved += status.size
                        removed = true
                    }
                }
                // Anything else is not ours to judge: left alone.
            }
            if removed { try FileSystem.syncDirectory(folder) }
        }
        guard let objectStore, !doomed.isEmpty else { return }
        try journalDeletions(doomed.map(\.digest))
        var gone: [ChunkDigest] = []
        for chunk in doomed {
            // Stat again right before unlinking, for the same reason as above.
            guard let status = FileSystem.status(chunk.path) else { continue }
            if status.modified >= cutoff {
                report.chunksKept += 1
                report.chunksKeptForGracePeriod += 1
            } else if try FileSystem.remove(chunk.path) {
                report.chunksRemoved += 1
                report.bytesRemoved += status.size
                gone.append(chunk.digest)
            }
        }
        try deleteChunkObjects(gone, from: objectStore)
        try FileSystem.remove("\(root)/\(Self.deletionJournalName)")
    }
}
