/// One guest file system opened for reading, addressed by path components under its root (`["etc", "hosts"]`;
/// `[]` is the root). Links are never followed. Implemented over libext2fs (``Ext2Volume``) and over a libguestfs
/// appliance (``GuestfsFileSystem``).
///
/// Not thread-safe: used by one thread at a time, as its ``GuestBrowser`` is.
protocol GuestFileSystem: AnyObject {
    /// The entry at `path`.
    func entry(_ path: [String]) throws -> GuestEntry
    /// The entries of the folder at `path`, without `.` and `..`, sorted by name.
    func list(_ path: [String]) throws -> [GuestEntry]
    /// Hands the content of the file at `path` to `body` in pieces, in order.
    func read(_ path: [String], _ body: ([UInt8]) throws -> Void) throws
}

extension Ext2Volume: GuestFileSystem {
    func entry(_ path: [String]) throws -> GuestEntry {
        try entry(try lookup(path), name: path.last ?? volume.name)
    }

    func list(_ path: [String]) throws -> [GuestEntry] { try list(try lookup(path)) }

    func read(_ path: [String], _ body: ([UInt8]) throws -> Void) throws { try read(try lookup(path), body) }
}

/// A file system mounted in a libguestfs appliance, which the browser's other file systems may share.
final class GuestfsFileSystem: GuestFileSystem {
    private let appliance: GuestfsAppliance
    private let name: String

    init(appliance: GuestfsAppliance, name: String) {
        self.appliance = appliance
        self.name = name
    }

    func entry(_ path: [String]) throws -> GuestEntry { try appliance.entry(name, path) }

    func list(_ path: [String]) throws -> [GuestEntry] { try appliance.list(name, path) }

    func read(_ path: [String], _ body: ([UInt8]) throws -> Void) throws { try appliance.read(name, path, body) }
}
