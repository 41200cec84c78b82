/// What ``Datastore/collectGarbage(gracePeriod:now:)`` did.
public struct GarbageCollectionReport: Hashable, Sendable {
    /// Complete recovery points whose indexes were read.
    public var pointsMarked = 0
    /// Distinct chunks those indexes name (the zero digest not counted).
    public var chunksReferenced = 0
    /// Chunk files kept: referenced, or unreferenced but younger than the grace period.
    public var chunksKept = 0
    /// Unreferenced chunk files kept only because they are younger than the grace period.
    public var chunksKeptForGracePeriod = 0
    /// Unreferenced chunk files removed.
    public var chunksRemoved = 0
    /// Bytes of the removed chunk files (and of the removed temporary and `.bad` files).
    public var bytesRemoved: UInt64 = 0
    /// Temporary files of writers that died, removed.
    public var temporaryFilesRemoved = 0
    /// Quarantined chunk files (`<digest>.bad`, see ``Datastore/verify(points:quarantine:)``) removed.
    public var quarantinedFilesRemoved = 0
    /// Point folders without a manifest (a writer died, or a deletion was cut short), removed.
    public var incompletePointsRemoved = 0
}
