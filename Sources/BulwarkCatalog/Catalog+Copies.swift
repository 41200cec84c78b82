import GRDB

extension Catalog {
    /// Writes a consistent copy of the catalog to the new file `path` with SQLite's online backup API: a snapshot as
    /// of one read transaction, taken while the server goes on writing.
    ///
    /// Blocks while it copies: call it from a thread of your own, never from Swift's cooperative pool.
    public func writeCopy(to path: String) throws {
        do {
            let copy = try DatabaseQueue(path: path)
            try pool.backup(to: copy)
            try copy.close()
        } catch {
            throw Self.translate(error)
        }
    }
}
