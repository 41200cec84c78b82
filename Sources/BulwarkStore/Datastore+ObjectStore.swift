import CLinux
import Foundation

/// A datastore whose durable copy is an object store, with its folder as the cache in front of it.
///
/// The folder holds every manifest and index, and a name for every chunk the bucket holds. The mode of a chunk file
/// says where it stands: writable by its owner (as written) means the bucket may lack it; read-only (0400) means it
/// was uploaded. A read-only file of zero bytes was evicted: its name stays, for chunk queries and garbage
/// collection, and its contents are fetched from the bucket when read.
///
/// Order of writes, so that nothing in the bucket refers to what is not there: a commit uploads the point's chunks
/// the bucket may lack, then its indexes, then its manifest with `If-None-Match: *`, and only then writes the point
/// into the folder; a deletion removes the manifest object first. Garbage collection decides from the folder alone
/// (names and their modification times, as for a local datastore: S3 keeps no access times to decide by) and
/// deletes a chunk's object only after its name is gone from the folder, journalling the names first so a sweep cut
/// short finishes on the next run.
extension Datastore {
    /// The mode of a chunk file the object store holds.
    static let uploadedMode: mode_t = 0o400
    /// Digests whose objects a sweep is deleting: replayed by the next collection when a sweep was cut short.
    static let deletionJournalName = ".gc-deleting"

    /// The object key of a path inside the datastore's folder.
    func objectKey(_ path: String) -> String { String(path.dropFirst(root.count + 1)) }

    /// Uploads the chunk files among `digests` that the object store may lack, then marks them uploaded.
    func uploadChunks(_ digests: Set<ChunkDigest>, to store: any ObjectStore) throws(DatastoreError) {
        var files: [(key: String, path: String)] = []
        for digest in digests.sorted() where digest != zeroDigest {
            let path = chunkPath(digest)
            var status = stat()
            guard stat(path, &status) == 0 else { continue }
            if status.st_mode & 0o200 != 0, status.st_size > 0 { files.append((objectKey(path), path)) }
        }
        try store.put(files: files)
        // A mode that cannot be changed only means the chunk is uploaded again next time.
        for file in files { chmod(file.path, Self.uploadedMode) }
    }

    /// Uploads a chunk file a sync just staged for `job` while the sync goes on, and marks the staged file uploaded,
    /// so that the commit has little left to send. A chunk promoted or dropped meanwhile is left to the commit.
    ///
    /// Holds the lock shared: garbage collection, which deletes objects and then makes the staged copies of what it
    /// deleted writable again (`sweepChunks`), never runs between this upload and its mark.
    public func uploadStagedChunk(_ file: [UInt8], digest: ChunkDigest, job: String) throws(DatastoreError) {
        guard let objectStore else { return }
        try Self.checkStagingName(job)
        try withLock(exclusive: false) { () throws(DatastoreError) in
            let staged = "\(stagingFolder(job))/\(digest)"
            guard FileSystem.exists(staged) else { return }
            _ = try objectStore.put(key: objectKey(chunkPath(digest)), bytes: file, ifAbsent: false)
            // Promoted since the check: the chunk's file stays writable and the commit uploads it again.
            chmod(staged, Self.uploadedMode)
        }
    }

    /// Makes staged copies of `digests` writable again after their objects were deleted, so their commits upload
    /// them. Called under the exclusive lock.
    func unmarkStagedCopies(of digests: [ChunkDigest]) throws(DatastoreError) {
        guard !digests.isEmpty else { return }
        let deleted = Set(digests.map(\.description))
        for job in try FileSystem.list(stagingPath) ?? [] {
            for name in try FileSystem.list(stagingFolder(job)) ?? [] where deleted.contains(name) {
                chmod("\(stagingFolder(job))/\(name)", 0o600)
            }
        }
    }

    /// A chunk file's stored bytes: the folder's copy, or the object store's when the folder's was evicted (it is
    /// then cached again). Nil when the folder has no such chunk.
    func chunkFileBytes(_ digest: ChunkDigest) throws(DatastoreError) -> [UInt8]? {
        guard let bytes = try FileSystem.read(chunkPath(digest)) else { return nil }
        guard bytes.isEmpty, let objectStore else { return bytes }
        return try fetchChunkFile(digest, from: objectStore, cache: true)
    }

    /// A chunk file's bytes from the object store.
    func fetchChunkFile(_ digest: ChunkDigest, from store: any ObjectStore, cache: Bool) throws(DatastoreError) -> [UInt8] {
        let key = objectKey(chunkPath(digest))
        guard let bytes = try store.get(key: key), !bytes.isEmpty else {
            throw DatastoreError(
                .chunkMissing,
                "chunk \(digest) is missing from \(store) (no object \(key)); the recovery points that use it are "
                    + "damaged: run a verify, and the next sync of a VM that still has the data stores it again",
                digest: digest)
        }
        if cache { keepInCache(bytes, of: digest) }
        return bytes
    }

    /// Puts fetched bytes back under a chunk's name, only while that name exists: a name garbage collection removed
    /// meanwhile must not come back, or a later sync would count on an object that is gone.
    private func keepInCache(_ bytes: [UInt8], of digest: ChunkDigest) {
        let path = chunkPath(digest)
        let temporary = FileSystem.temporaryName(for: path)
        do {
            try FileSystem.writeNew(bytes, to: temporary, mode: Self.uploadedMode)
            _ = try FileSystem.exchange(temporary, path)
        } catch {
            // The cache is an optimisation: the bytes were read, the next read fetches them again.
        }
        unlink(temporary)
    }

    /// Evicts the contents of uploaded chunk files, least recently written or reused first, until the folder's chunk
    /// files hold at most `limit` bytes. Names stay, so chunk queries and garbage collection see no difference.
    ///
    /// Holds the datastore's lock exclusively, so no commit is uploading while files are swapped for empty ones.
    public func trimCache(toBytes limit: UInt64) throws(DatastoreError) -> CacheTrimReport {
        guard objectStore != nil else { return CacheTrimReport() }
        return try withLock(exclusive: true) { () throws(DatastoreError) in
            var report = CacheTrimReport()
            var candidates: [(path: String, size: UInt64, modified: Int)] = []
            for prefix in try FileSystem.list(chunksPath) ?? [] {
                let folder = "\(chunksPath)/\(prefix)"
                for name in try FileSystem.list(folder) ?? [] where ChunkDigest(name) != nil {
                    var status = stat()
                    guard stat("\(folder)/\(name)", &status) == 0 else { continue }
                    let size = UInt64(status.st_size)
                    report.cachedBytes += size
                    if status.st_mode & 0o200 == 0, size > 0 {
                        candidates.append(("\(folder)/\(name)", size, status.st_mtim.tv_sec))
                    }
                }
            }
            guard report.cachedBytes > limit else { return report }
            for candidate in candidates.sorted(by: { $0.modified < $1.modified }) {
                guard report.cachedBytes > limit else { break }
                if try evict(candidate.path) {
                    report.chunksEvicted += 1
                    report.bytesEvicted += candidate.size
                    report.cachedBytes -= candidate.size
                }
            }
            return report
        }
    }

    /// Swaps an uploaded chunk file for an empty one of the same mode, atomically: readers see the whole file or
    /// the empty one (and fetch), never a part.
    private func evict(_ path: String) throws(DatastoreError) -> Bool {
        let temporary = FileSystem.temporaryName(for: path)
        try FileSystem.writeNew([], to: temporary, mode: Self.uploadedMode)
        defer { unlink(temporary) }
        guard try FileSystem.exchange(temporary, path) else { return false }
        // A sync's promotion may have put a new, not yet uploaded copy under the name since it was listed: that one
        // goes back.
        var displaced = stat()
        if stat(temporary, &displaced) == 0, displaced.st_mode & 0o200 != 0 {
            _ = try FileSystem.exchange(temporary, path)
            return false
        }
        return true
    }

    /// Reads a chunk for `verify`: from the object store when there is one (the copy that counts), not from the cache.
    func readChunkForVerify(_ digest: ChunkDigest) throws(DatastoreError) -> [UInt8] {
        guard let objectStore else { return try readChunk(digest) }
        guard FileSystem.exists(chunkPath(digest)) else {
            throw DatastoreError(
                .chunkMissing,
                "chunk \(digest) is missing from the datastore at \(root) (its name is gone from the cache folder); run "
                    + "the next sync of a VM that still has the data to store it again",
                digest: digest)
        }
        let bytes = try fetchChunkFile(digest, from: objectStore, cache: false)
        return try ChunkFile.decode(
            bytes, digest: digest, path: "\(objectStore) object \(objectKey(chunkPath(digest)))", maximumLength: chunkSize)
    }

    /// Publishes a point in the object store: its chunks, its indexes, then its manifest, which must not exist.
    func publishPoint(
        _ point: RecoveryPointRef, indexes: [(target: String, index: FixedIndex, bytes: [UInt8])], manifest: [UInt8],
        to store: any ObjectStore
    ) throws(DatastoreError) -> [String] {
        try uploadChunks(Set(indexes.flatMap(\.index.digests)), to: store)
        let folder = objectKey(pointPath(point))
        var keys: [String] = []
        for file in indexes {
            let key = "\(folder)/\(file.target)\(Self.indexExtension)"
            _ = try store.put(key: key, bytes: file.bytes, ifAbsent: false)
            keys.append(key)
        }
        let key = "\(folder)/\(Self.manifestName)"
        guard try store.put(key: key, bytes: manifest, ifAbsent: true) else {
            throw DatastoreError(
                .pointExists,
                "recovery point \(point) exists already in \(store) (object \(key)); use a new point id")
        }
        // The manifest first, for the undoing: see `unpublishPoint`.
        return [key] + keys
    }

    /// Deletes a point's objects, manifest first, so a deletion cut short leaves no manifest naming missing indexes.
    func unpublishPoint(_ point: RecoveryPointRef, from store: any ObjectStore) throws(DatastoreError) {
        let folder = pointPath(point)
        let key = objectKey(folder)
        try store.delete(keys: ["\(key)/\(Self.manifestName)"])
        let indexes = try (FileSystem.list(folder) ?? []).filter { $0.hasSuffix(Self.indexExtension) }
        try store.delete(keys: indexes.map { "\(key)/\($0)" })
    }

    /// Deletes the objects of chunks whose names a sweep removed: journalled first, so that a collection cut short
    /// between the two finishes on the next run (``replayDeletionJournal(to:)``).
    func deleteChunkObjects(_ digests: [ChunkDigest], from store: any ObjectStore) throws(DatastoreError) {
        guard !digests.isEmpty else { return }
        try store.delete(keys: digests.map { objectKey(chunkPath($0)) })
        try unmarkStagedCopies(of: digests)
        try FileSystem.remove("\(root)/\(Self.deletionJournalName)")
    }

    /// Writes the digests a sweep is about to remove, before any name goes.
    func journalDeletions(_ digests: [ChunkDigest]) throws(DatastoreError) {
        try FileSystem.writeAtomically(
            Array(digests.map(\.description).joined(separator: "\n").utf8), to: "\(root)/\(Self.deletionJournalName)")
    }

    /// Finishes the deletions of a sweep that was cut short: objects of journalled chunks whose names are gone.
    /// Runs under the exclusive lock, when no commit can be uploading a chunk of the same name.
    func replayDeletionJournal(to store: any ObjectStore) throws(DatastoreError) {
        let path = "\(root)/\(Self.deletionJournalName)"
        guard let bytes = try FileSystem.read(path) else { return }
        let digests = String(decoding: bytes, as: UTF8.self).split(separator: "\n").compactMap { ChunkDigest(String($0)) }
        try deleteChunkObjects(digests.filter { !FileSystem.exists(chunkPath($0)) }, from: store)
        try FileSystem.remove(path)
    }
}

/// What ``Datastore/trimCache(toBytes:)`` did.
public struct CacheTrimReport: Hashable, Sendable {
    /// Chunk files whose contents were evicted (their names stay).
    public var chunksEvicted = 0
    public var bytesEvicted: UInt64 = 0
    /// Bytes of chunk contents the folder holds afterwards.
    public var cachedBytes: UInt64 = 0

    public init() {}
}
