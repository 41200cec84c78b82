/// How much a datastore holds and how well deduplication and compression do.
public struct DatastoreStatistics: Hashable, Sendable {
    /// Complete recovery points.
    public var pointCount = 0
    /// The sum of the sizes of every disk of every complete point: what the points would take as plain copies.
    public var logicalBytes: UInt64 = 0
    /// The part of ``logicalBytes`` in chunks that are not zeros: what the points reference in stored chunks.
    public var referencedBytes: UInt64 = 0
    /// Chunk files.
    public var chunkCount = 0
    /// The plain (uncompressed) bytes of the chunk files.
    public var plainBytes: UInt64 = 0
    /// The size of the chunk files on disk (headers and payloads).
    public var storedBytes: UInt64 = 0

    /// How many times over the points use each stored byte: ``referencedBytes`` / ``plainBytes`` (1 when empty).
    public var dedupRatio: Double {
        plainBytes == 0 ? 1 : Double(referencedBytes) / Double(plainBytes)
    }

    /// How much compression shrinks the chunks: ``plainBytes`` / ``storedBytes`` (1 when empty).
    public var compressionRatio: Double {
        storedBytes == 0 ? 1 : Double(plainBytes) / Double(storedBytes)
    }
}
