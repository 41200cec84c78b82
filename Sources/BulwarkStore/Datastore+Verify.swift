import Foundation

extension Datastore {
    /// Reads every chunk the given points use (all complete points when `nil`), checks its CRC-32 and SHA-256, and
    /// reports the bad chunks and the points that use them; unreadable manifests and indexes mark their points too.
    ///
    /// Each chunk is read once however many points share it. With `quarantine`, a damaged chunk file (not a
    /// missing one) is renamed to `<digest>.bad`: the datastore then lacks the chunk, so the next sync of a VM
    /// that still has the data stores it again (a damaged file under the right name would be taken as present
    /// forever). The `.bad` file is kept for inspection until garbage collection's grace period passes.
    public func verify(points: [RecoveryPointRef]? = nil, quarantine: Bool = true) throws(DatastoreError) -> VerifyReport {
        let points = if let points { points } else { try listRecoveryPoints() }
        var report = VerifyReport()
        var problems: [RecoveryPointRef: [String]] = [:]
        var readable: [RecoveryPointRef: RecoveryPointManifest] = [:]
        var digests = Set<ChunkDigest>()
        for point in points {
            report.pointsChecked += 1
            do {
                let manifest = try readManifest(point)
                for disk in manifest.disks {
                    do {
                        digests.formUnion(try readIndex(point, disk: disk.target, manifest: manifest).digests)
                    } catch {
                        problems[point, default: []].append(error.message)
                    }
                }
                readable[point] = manifest
            } catch {
                problems[point, default: []].append(error.message)
            }
        }
        digests.remove(zeroDigest)

        var bad: [ChunkDigest: DatastoreError] = [:]
        // Sorted digests read the chunk folders in order, which is kinder to the directory caches.
        for digest in digests.sorted() {
            do {
                report.bytesChecked += UInt64(try readChunkForVerify(digest).count)
            } catch let error where [.chunkMissing, .chunkCorrupt, .digestMismatch].contains(error.code) {
                bad[digest] = error
            }
            report.chunksChecked += 1
        }

        var users: [ChunkDigest: [RecoveryPointRef]] = [:]
        var damaged: [RecoveryPointRef: Set<ChunkDigest>] = [:]
        if !bad.isEmpty {
            // A second pass over the indexes, rather than keeping every point's digests in memory through the
            // (long) chunk reads.
            for (point, manifest) in readable {
                for disk in manifest.disks {
                    guard let index = try? readIndex(point, disk: disk.target, manifest: manifest) else { continue }
                    for digest in Set(index.digests) where bad[digest] != nil {
                        users[digest, default: []].append(point)
                        damaged[point, default: []].insert(digest)
                    }
                }
            }
        }
        for (digest, error) in bad.sorted(by: { $0.key < $1.key }) {
            var quarantined = false
            // With an object store, the folder may still name a chunk whose object is gone: that name must go too,
            // or syncs would go on counting on it.
            if quarantine, error.code != .chunkMissing || objectStore != nil {
                quarantined = try quarantineChunk(digest)
            }
            report.badChunks.append(
                VerifyReport.BadChunk(
                    digest: digest, code: error.code, message: error.message,
                    points: Array(Set(users[digest] ?? [])).sorted(), quarantined: quarantined))
        }
        for point in Set(problems.keys).union(damaged.keys).sorted() {
            report.damagedPoints.append(
                VerifyReport.DamagedPoint(
                    point: point, badChunks: (damaged[point] ?? []).sorted(), problems: problems[point] ?? []))
        }
        return report
    }

    /// Renames a damaged chunk file to `<digest>.bad` and stamps it with the current time (for the grace period).
    private func quarantineChunk(_ digest: ChunkDigest) throws(DatastoreError) -> Bool {
        let path = chunkPath(digest)
        let target = path + Self.quarantineSuffix
        guard rename(path, target) == 0 else {
            if errno == ENOENT { return false }
            throw .system("move the damaged chunk aside:", path, errno: errno)
        }
        _ = try FileSystem.touch(target)
        try FileSystem.syncDirectory(chunkFolder(digest))
        return true
    }

    static let quarantineSuffix = ".bad"
}
