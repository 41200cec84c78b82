/// A point's guest files under one tree of absolute paths (`/vda1/etc/hosts`), as browsing and item-level copies
/// read them: ``GuestBrowser`` parses them in this process, ``GuestReader`` asks a sandboxed helper that does.
///
/// Not thread-safe: used by one thread at a time.
public protocol GuestTree: AnyObject {
    /// The entry at `path`.
    func entry(_ path: String) throws -> GuestEntry
    /// The entries of the folder at `path`, or the one entry of a file there.
    func list(_ path: String) throws -> [GuestEntry]
    /// Hands the content of the file at `path` to `body` in pieces, in order.
    func read(_ path: String, _ body: ([UInt8]) throws -> Void) throws
}

extension GuestBrowser: GuestTree {
    public func read(_ path: String, _ body: ([UInt8]) throws -> Void) throws {
        let parts = try Self.components(path)
        guard let first = parts.first, parts.count >= 2 else {
            throw GuestFilesError(.invalid, "'\(path)' is not a file; name a file in a file system, e.g. /vda1/etc/hosts")
        }
        try open(first).read(Array(parts.dropFirst()), body)
    }
}
