/// What ``Datastore/writeChunk(_:expecting:)`` did with a chunk.
public struct ChunkWriteResult: Hashable, Sendable {
    /// The SHA-256 of the plain bytes: what an index records for this chunk.
    public var digest: ChunkDigest
    /// The size of the chunk's file (header and payload), whether this call wrote it or found it; 0 for zeros.
    public var storedBytes: Int
    /// Whether this call wrote the file. `false` when it existed (deduplicated) or the chunk is all zeros. Two
    /// writers racing on a new chunk may both see `true`; the file is whole either way.
    public var isNew: Bool
    /// Whether the chunk is a full chunk of zeros, recorded by ``Datastore/zeroDigest`` and never stored.
    public var isZero: Bool

    public init(digest: ChunkDigest, storedBytes: Int, isNew: Bool, isZero: Bool) {
        self.digest = digest
        self.storedBytes = storedBytes
        self.isNew = isNew
        self.isZero = isZero
    }
}
