internal import CLinux

/// How a process that moves chunks keeps its buffers' memory.
public enum ChunkMemory {
    /// Keeps freed chunk-sized buffers in the process's heap for the next chunk, instead of giving them back.
    ///
    /// glibc serves allocations of megabytes with `mmap` and unmaps them when freed, and trims the heap's free top
    /// back to the kernel: every chunk of a sync or a restore then landed in fresh pages, each faulted in and
    /// zeroed by the kernel before the data was copied over it. Call once at start-up, before the first chunk.
    public static func keepFreedBuffers() {
        // Chunks are at most 16 MiB, with their header; the ceiling glibc allows is 32 MiB.
        _ = mallopt(M_MMAP_THRESHOLD, 32 << 20)
        // A sync keeps a few dozen chunk buffers in flight; what they free stays for the next ones.
        _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    }
}
