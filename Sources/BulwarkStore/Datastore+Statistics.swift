extension Datastore {
    /// Counts what the datastore holds: reads every complete point's indexes and every chunk file's header.
    ///
    /// It walks the whole datastore, so it is for reports, not for a hot path. Unreadable points are skipped
    /// (``verify(points:quarantine:)`` reports them); chunk files with a damaged header count their file size only.
    public func statistics() throws(DatastoreError) -> DatastoreStatistics {
        var statistics = DatastoreStatistics()
        for point in try listRecoveryPoints() {
            guard let manifest = try? readManifest(point) else { continue }
            statistics.pointCount += 1
            for disk in manifest.disks {
                statistics.logicalBytes += disk.logicalSize
                guard let index = try? readIndex(point, disk: disk.target, manifest: manifest) else { continue }
                for (chunk, digest) in index.digests.enumerated() where digest != zeroDigest {
                    statistics.referencedBytes += UInt64(index.range(ofChunk: chunk).count)
                }
            }
        }
        for prefix in try FileSystem.list(chunksPath) ?? [] {
            let folder = "\(chunksPath)/\(prefix)"
            for name in try FileSystem.list(folder) ?? [] where ChunkDigest(name) != nil {
                let path = "\(folder)/\(name)"
                guard let status = FileSystem.status(path) else { continue }
                statistics.chunkCount += 1
                statistics.storedBytes += status.size
                if let header = try FileSystem.readPrefix(path, count: ChunkFile.headerSize).flatMap(ChunkFile.header) {
                    statistics.plainBytes += UInt64(header.plainLength)
                }
            }
        }
        return statistics
    }
}
