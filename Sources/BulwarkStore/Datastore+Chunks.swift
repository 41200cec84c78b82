import Foundation

extension Datastore {
    /// Stores one chunk of plain bytes unless the datastore has it already, and returns its digest.
    ///
    /// A full chunk of zeros is not stored: the result carries ``zeroDigest``. A new chunk is compressed (zstd
    /// level 1, raw when that does not shrink it), written to a temporary file in its folder, flushed, renamed into
    /// place and the folder flushed, so a crash leaves either no chunk or a whole one. A chunk that exists gets its
    /// modification time refreshed instead, so that garbage collection's grace period protects it while the caller
    /// builds the index that reuses it.
    ///
    /// - Parameter expected: the digest the sender claims; the chunk is refused with `digestMismatch` when the
    ///   bytes hash to something else.
    public func writeChunk(_ bytes: [UInt8], expecting expected: ChunkDigest? = nil) throws(DatastoreError)
        -> ChunkWriteResult
    {
        guard !bytes.isEmpty, bytes.count <= chunkSize else {
            throw DatastoreError(
                .invalidArgument,
                "a chunk of \(bytes.count) bytes does not fit the datastore at \(root), whose chunks hold 1 to "
                    + "\(chunkSize) bytes; split the data at the datastore's chunk size")
        }
        let digest = bytes.count == chunkSize && EncodedChunk.isAllZero(bytes) ? zeroDigest : ChunkDigest.of(bytes)
        if let expected, expected != digest {
            throw DatastoreError(
                .digestMismatch,
                "the chunk sent as \(expected) has SHA-256 \(digest); the data was damaged on the way: send it again",
                digest: expected)
        }
        if digest == zeroDigest, bytes.count == chunkSize {
            return ChunkWriteResult(digest: digest, storedBytes: 0, isNew: false, isZero: true)
        }
        let path = chunkPath(digest)
        if try FileSystem.touch(path), let status = FileSystem.status(path) {
            return ChunkWriteResult(digest: digest, storedBytes: Int(status.size), isNew: false, isZero: false)
        }
        let folder = chunkFolder(digest)
        if try FileSystem.makeDirectory(folder) { try FileSystem.syncDirectory(chunksPath) }
        let file = ChunkFile.encoding(bytes).bytes
        // Two writers of the same chunk each rename their own whole temporary file; the second rename replaces
        // identical bytes, atomically, so readers see one whole file throughout.
        try FileSystem.writeAtomically(file, to: path)
        return ChunkWriteResult(digest: digest, storedBytes: file.count, isNew: true, isZero: false)
    }

    /// Whether the datastore holds the chunk (always `true` for ``zeroDigest``). Does not read or check it.
    public func hasChunk(_ digest: ChunkDigest) -> Bool {
        digest == zeroDigest || FileSystem.exists(chunkPath(digest))
    }

    /// Whether the chunk is stored, refreshing its time when it is: a sync that counts on a stored chunk (it will
    /// not upload it) keeps it from garbage collection's sweep until its commit names it (see `collectGarbage`).
    public func refreshChunk(_ digest: ChunkDigest) -> Bool {
        digest == zeroDigest || ((try? FileSystem.touch(chunkPath(digest))) ?? false)
    }

    /// The plain bytes of a chunk, after checking its CRC-32, decompressing and checking its SHA-256.
    ///
    /// ``zeroDigest`` reads as a full chunk of zeros. Throws `chunkMissing`, `chunkCorrupt` (damaged header,
    /// length or CRC, or a payload that does not decompress) or `digestMismatch`.
    public func readChunk(_ digest: ChunkDigest) throws(DatastoreError) -> [UInt8] {
        if digest == zeroDigest { return [UInt8](repeating: 0, count: chunkSize) }
        let path = chunkPath(digest)
        guard let bytes = try chunkFileBytes(digest) else {
            throw DatastoreError(
                .chunkMissing,
                "chunk \(digest) is missing from the datastore at \(root) (no \(path)); the recovery points that "
                    + "use it are damaged: run a verify, and the next sync of a VM that still has the data stores it again",
                digest: digest)
        }
        do {
            return try ChunkFile.decode(bytes, digest: digest, path: path, maximumLength: chunkSize)
        } catch {
            // A cached copy is written without a flush: after a power cut it may be damaged where the bucket's is not.
            guard let objectStore, let status = FileSystem.status(path), status.size > 0 else { throw error }
            let fetched = try fetchChunkFile(digest, from: objectStore, cache: false)
            return try ChunkFile.decode(
                fetched, digest: digest, path: "\(objectStore) object \(objectKey(path))", maximumLength: chunkSize)
        }
    }

    /// The size of a chunk's file as stored, for a buffer to read it into (``readChunkFile(_:into:)``).
    public func chunkFileSize(_ digest: ChunkDigest) throws(DatastoreError) -> Int {
        guard let status = FileSystem.status(chunkPath(digest)), !status.isDirectory else {
            throw DatastoreError(
                .chunkMissing, "chunk \(digest) is missing from the datastore at \(root) (no \(chunkPath(digest))); run a verify",
                digest: digest)
        }
        if status.size == 0, let objectStore {
            // Evicted: fetched (and cached) now, so the read that follows finds it in the folder.
            return try fetchChunkFile(digest, from: objectStore, cache: true).count
        }
        return Int(status.size)
    }

    /// Reads a chunk's file as stored (header and compressed payload) into `buffer`, which must be exactly its size
    /// (``chunkFileSize(_:)``), for a server that sends the bytes from a buffer it owns to an agent that decodes and
    /// checks them itself (``decodeChunkFile(_:digest:chunkSize:)``). Only the header is checked here.
    public func readChunkFile(_ digest: ChunkDigest, into buffer: UnsafeMutableRawBufferPointer) throws(DatastoreError) {
        let path = chunkPath(digest)
        guard var got = try FileSystem.read(path, into: buffer) else {
            throw DatastoreError(
                .chunkMissing, "chunk \(digest) is missing from the datastore at \(root) (no \(path)); run a verify",
                digest: digest)
        }
        if got == 0, let objectStore {
            // Evicted again since its size was asked for.
            let bytes = try fetchChunkFile(digest, from: objectStore, cache: false)
            guard bytes.count == buffer.count else {
                throw DatastoreError(
                    .chunkCorrupt,
                    "chunk \(digest) in \(objectStore) holds \(bytes.count) bytes, not the \(buffer.count) its size said; run a verify",
                    digest: digest)
            }
            bytes.withUnsafeBytes { source in buffer.copyMemory(from: source) }
            got = bytes.count
        }
        let header = UnsafeRawBufferPointer(rebasing: buffer[..<min(got, ChunkFile.headerSize)])
        guard got == buffer.count, ChunkFile.header(of: Array(header)) != nil else {
            throw DatastoreError(
                .chunkCorrupt, "chunk file \(path) has no valid header or changed size while it was read; run a verify",
                digest: digest)
        }
    }
}
