public import ChunkFormat

extension DiskImageFormat {
    /// Reads the header on a dispatch thread, keeping the blocking read off Swift's cooperative pool.
    public static func inspect(path: String) async throws(DiskImageError) -> DiskImageFormat {
        try await runOffCooperativePool { () throws(DiskImageError) in try read(path: path) }
    }
}
