import Foundation

/// Chunks a sync uploads, kept out of sight until they are flushed in one batch.
///
/// Flushing every chunk file and its folder on its own costs a journal commit each, which made the datastore's
/// write path several times slower than the disk. Staged chunks are written without a flush into
/// `<root>/.staging/<job>/<sha256 hex>`; ``promoteStagedChunks(of:checking:)`` flushes the whole file system once,
/// then renames them among the chunks. Until then no other sync sees them (``hasChunk(_:)`` looks only at the
/// chunks), so no recovery point can come to rest on a chunk that a power cut could still take away.
extension Datastore {
    static let stagingName = ".staging"

    var stagingPath: String { "\(root)/\(Self.stagingName)" }

    func stagingFolder(_ job: String) -> String { "\(stagingPath)/\(job)" }

    /// Stores a chunk file an agent encoded, for `job`, without flushing it (see the extension's summary).
    ///
    /// The file is checked exactly as by ``writeEncodedChunk(_:digest:)``. A chunk the datastore holds already gets
    /// its time refreshed and is not staged; one this job staged before is not written again.
    @discardableResult
    public func stageEncodedChunk(_ file: [UInt8], digest: ChunkDigest, job: String) throws(DatastoreError)
        -> ChunkWriteResult
    {
        try Self.checkStagingName(job)
        if let known = try acceptEncodedChunk(file, digest: digest) { return known }
        let folder = stagingFolder(job)
        let staged = "\(folder)/\(digest)"
        if let status = FileSystem.status(staged) {
            return ChunkWriteResult(digest: digest, storedBytes: Int(status.size), isNew: false, isZero: false)
        }
        try FileSystem.makeDirectory(stagingPath)
        try FileSystem.makeDirectory(folder)
        // Direct I/O: copying a sync's gigabytes into the page cache was the server's largest cost.
        try FileSystem.writeAtomically(file, to: staged, durable: false, direct: true)
        return ChunkWriteResult(digest: digest, storedBytes: file.count, isNew: true, isZero: false)
    }

    /// Whether the datastore holds the chunk, or `job` staged it.
    public func hasChunk(_ digest: ChunkDigest, stagedBy job: String) -> Bool {
        hasChunk(digest) || hasStagedChunk(digest, job: job)
    }

    /// Whether `job` staged the chunk (uploaded it and not yet promoted it).
    public func hasStagedChunk(_ digest: ChunkDigest, job: String) -> Bool {
        FileSystem.exists("\(stagingFolder(job))/\(digest)")
    }

    /// The jobs with staged chunks.
    public func stagingJobs() throws(DatastoreError) -> [String] {
        try FileSystem.list(stagingPath) ?? []
    }

    /// Flushes a job's staged chunks to disk and moves them among the datastore's chunks, then removes its
    /// staging folder.
    ///
    /// Call it before writing an index that names them, and when the job ends any other way, so that the next
    /// sync finds what this one uploaded. With `checking`, each staged file is read and decoded first and dropped
    /// when it is not whole: that is the call after a crash, when a power cut may have left files that were never
    /// flushed (a killed process cannot, as each file is renamed into the folder whole).
    @discardableResult
    public func promoteStagedChunks(of job: String, checking: Bool) throws(DatastoreError) -> StagingReport {
        try Self.checkStagingName(job)
        let folder = stagingFolder(job)
        guard let names = try FileSystem.list(folder) else { return StagingReport() }
        var report = StagingReport()
        if !names.isEmpty { try FileSystem.syncFileSystem(of: folder) }
        for name in names.sorted() {
            let staged = "\(folder)/\(name)"
            guard let digest = ChunkDigest(name), digest.description == name else {
                // A temporary file of a write that never finished.
                try FileSystem.remove(staged)
                continue
            }
            if checking {
                let whole: Bool
                do {
                    let bytes = try FileSystem.read(staged) ?? []
                    whole = try !ChunkFile.decode(bytes, digest: digest, path: staged, maximumLength: chunkSize).isEmpty
                } catch {
                    whole = false
                }
                guard whole else {
                    try FileSystem.remove(staged)
                    report.dropped += 1
                    continue
                }
            }
            report.digests.append(digest)
            if try FileSystem.touch(chunkPath(digest)) {
                // Another sync stored it meanwhile; theirs is as good as ours.
                try FileSystem.remove(staged)
                continue
            }
            try FileSystem.makeDirectory(chunkFolder(digest))
            try FileSystem.move(staged, to: chunkPath(digest))
            report.promoted += 1
        }
        // The renames (and new chunk folders) made durable before any index may name them.
        if report.promoted > 0 { try FileSystem.syncFileSystem(of: chunksPath) }
        if rmdir(folder) != 0, errno != ENOENT, errno != ENOTEMPTY {
            throw .system("remove the staging folder", folder, errno: errno)
        }
        return report
    }

    /// Job names become folder names: only letters, digits, `-` and `_`.
    static func checkStagingName(_ job: String) throws(DatastoreError) {
        guard isPlainName(job, maximumLength: 128) else {
            throw DatastoreError(
                .invalidArgument,
                "'\(job)' cannot name a staging folder; use a job id (letters, digits, '-' and '_', at most 128)")
        }
    }
}

/// What ``Datastore/promoteStagedChunks(of:checking:)`` did.
public struct StagingReport: Hashable, Sendable {
    /// Chunks moved among the datastore's chunks.
    public var promoted = 0
    /// Staged files that were not whole (after a crash) and were removed.
    public var dropped = 0
    /// Every whole chunk the job had staged, now among the datastore's chunks.
    public var digests: [ChunkDigest] = []

    public init() {}
}
