import Foundation

extension Datastore {
    /// Runs `body` holding `<root>/.lock`: shared for commits of recovery points, exclusive for garbage collection.
    ///
    /// Garbage collection must not mark, then miss a point committed between its mark and its sweep, and then sweep
    /// a chunk that point reuses. Commits are short (they touch and write small files) so they share the lock;
    /// collection waits for them and they wait for it. The lock is `flock(2)` on a descriptor of its own, so it
    /// works between threads and processes alike and is released by the kernel if the holder dies.
    func withLock<Result>(
        exclusive: Bool, _ body: () throws(DatastoreError) -> Result
    ) throws(DatastoreError) -> Result {
        let path = "\(root)/\(Self.lockName)"
        let descriptor = Foundation.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .system("open the lock file", path, errno: errno) }
        defer { close(descriptor) }
        while flock(descriptor, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw .system("lock", path, errno: errno) }
        }
        return try body()
    }
}
