/// What ``Datastore/verify(points:quarantine:)`` found.
public struct VerifyReport: Hashable, Sendable {
    /// A chunk that is missing or does not read back as its digest.
    public struct BadChunk: Hashable, Sendable {
        public var digest: ChunkDigest
        /// `chunkMissing`, `chunkCorrupt` or `digestMismatch`.
        public var code: DatastoreError.Code
        public var message: String
        /// The checked points whose indexes name the chunk.
        public var points: [RecoveryPointRef]
        /// Whether the damaged file was moved aside (to `<digest>.bad`) so that the next sync stores it again.
        public var quarantined: Bool
    }

    /// A point that cannot be restored in full.
    public struct DamagedPoint: Hashable, Sendable {
        public var point: RecoveryPointRef
        /// Bad chunks its indexes name.
        public var badChunks: [ChunkDigest]
        /// Manifest or index problems, one message each.
        public var problems: [String]
    }

    public var pointsChecked = 0
    /// Distinct chunks read (zero chunks are not read).
    public var chunksChecked = 0
    /// Plain bytes of the chunks read.
    public var bytesChecked: UInt64 = 0
    public var badChunks: [BadChunk] = []
    public var damagedPoints: [DamagedPoint] = []

    /// Whether every checked point can be restored.
    public var isClean: Bool { badChunks.isEmpty && damagedPoints.isEmpty }
}
