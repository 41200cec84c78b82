extension Datastore {
    /// The largest chunk file this datastore accepts: a raw payload of a whole chunk and its header (a
    /// compressed payload is kept only when it is smaller).
    public var maximumChunkFileSize: Int { ChunkFile.headerSize + chunkSize }

    /// Stores a chunk file an agent encoded (``EncodedChunk``) exactly as it came, after checking it.
    ///
    /// The file must have a sound header and CRC-32, decode to 1 to ``chunkSize`` bytes, and those bytes must hash
    /// to `digest`; otherwise nothing is written (`chunkCorrupt`, `digestMismatch` or `invalidArgument`). The write
    /// is atomic as in ``writeChunk(_:expecting:)``, and a chunk that exists already only gets its time refreshed,
    /// so garbage collection's grace period protects it until the point that uses it is committed.
    public func writeEncodedChunk(_ file: [UInt8], digest: ChunkDigest) throws(DatastoreError) -> ChunkWriteResult {
        if let known = try acceptEncodedChunk(file, digest: digest) { return known }
        let path = chunkPath(digest)
        if try FileSystem.makeDirectory(chunkFolder(digest)) { try FileSystem.syncDirectory(chunksPath) }
        try FileSystem.writeAtomically(file, to: path)
        return ChunkWriteResult(digest: digest, storedBytes: file.count, isNew: true, isZero: false)
    }

    /// Checks an agent's chunk file (``checkEncodedChunk(_:digest:)``) and answers for it when nothing needs
    /// writing: zeros, which are never stored, or a chunk the datastore holds (its time refreshed, so garbage
    /// collection's grace period protects it). Nil when the file must be written.
    func acceptEncodedChunk(_ file: [UInt8], digest: ChunkDigest) throws(DatastoreError) -> ChunkWriteResult? {
        if digest == zeroDigest {
            // Zeros are recorded by digest and never stored; there is nothing to check or keep.
            return ChunkWriteResult(digest: digest, storedBytes: 0, isNew: false, isZero: true)
        }
        try checkEncodedChunk(file, digest: digest)
        if try FileSystem.touch(chunkPath(digest)), let status = FileSystem.status(chunkPath(digest)) {
            return ChunkWriteResult(digest: digest, storedBytes: Int(status.size), isNew: false, isZero: false)
        }
        return nil
    }

    /// Checks a chunk file an agent encoded: size, header, CRC-32, payload, and that it decodes to 1 to
    /// ``chunkSize`` bytes whose SHA-256 is `digest`.
    func checkEncodedChunk(_ file: [UInt8], digest: ChunkDigest) throws(DatastoreError) {
        guard file.count <= maximumChunkFileSize else {
            throw DatastoreError(
                .invalidArgument,
                "the chunk file sent as \(digest) has \(file.count) bytes; the datastore at \(root) takes at most "
                    + "\(maximumChunkFileSize) (\(chunkSize)-byte chunks and a \(ChunkFile.headerSize)-byte header): "
                    + "cut the data at the datastore's chunk size",
                digest: digest)
        }
        let plainLength: Int
        do {
            plainLength = try ChunkFile.check(file, digest: digest, path: "upload", maximumLength: chunkSize)
        } catch {
            let what =
                error.code == .digestMismatch
                ? "decodes to data with another SHA-256" : "is damaged (bad header, CRC-32 or compressed payload)"
            throw DatastoreError(
                error.code,
                "the chunk file sent as \(digest) \(what); nothing was stored: encode the chunk again and send it "
                    + "under the SHA-256 of its plain bytes",
                digest: digest, cause: error)
        }
        guard plainLength > 0 else {
            throw DatastoreError(
                .invalidArgument, "the chunk file sent as \(digest) holds no data; chunks hold 1 to \(chunkSize) bytes",
                digest: digest)
        }
    }
}
