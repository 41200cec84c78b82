import Foundation
import CExt2

/// The files of a recovery point's guest file systems, under one tree: `/` lists the file systems (`vda1`,
/// `vdb`), and `/vdb1/etc/hosts` is a file in the first partition of `vdb`. Nothing is mounted and no guest runs:
/// ext2/3/4 are read with libext2fs from the point's bytes; other file systems are listed but not opened.
///
/// Not thread-safe (libext2fs handles are not): use a browser from one thread at a time.
public final class GuestBrowser {
    public let volumes: [GuestVolume]
    private let disks: [String: any GuestDisk]
    private var opened: [String: Ext2Volume] = [:]

    public init(disks: [any GuestDisk]) throws {
        var volumes: [GuestVolume] = []
        var byName: [String: any GuestDisk] = [:]
        for disk in disks {
            byName[disk.target] = disk
            volumes += try PartitionTable.volumes(of: disk)
        }
        self.volumes = volumes
        self.disks = byName
    }

    /// The parts of `path` (absolute, `/`-separated); `..`, `.` and empty parts are refused.
    public static func components(_ path: String) throws(GuestFilesError) -> [String] {
        guard path.hasPrefix("/") else {
            throw GuestFilesError(.invalid, "'\(path)' is not an absolute path: paths start with / and the file system, e.g. /vda1/etc/hosts")
        }
        let parts = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        for part in parts where part == "." || part == ".." || part.contains("\0") {
            throw GuestFilesError(.invalid, "'\(path)' holds '\(part)'; name files by their plain path")
        }
        return parts
    }

    /// The entries of the folder at `path`, or the one entry of a file there.
    public func list(_ path: String) throws -> [GuestEntry] {
        let parts = try Self.components(path)
        guard let first = parts.first else {
            return volumes.map { volume in
                GuestEntry(
                    name: volume.name, kind: .filesystem, size: volume.size, mode: 0o755, modified: .distantPast,
                    accessed: .distantPast, fileSystem: volume.type, label: volume.label)
            }
        }
        let volume = try open(first)
        let inode = try volume.lookup(Array(parts.dropFirst()))
        let entry = try volume.entry(inode, name: parts.last!)
        return entry.kind == .directory && parts.count > 0 ? try volume.list(inode) : [entry]
    }

    /// The entry at `path`.
    public func entry(_ path: String) throws -> GuestEntry {
        let parts = try Self.components(path)
        guard let first = parts.first else {
            throw GuestFilesError(.invalid, "/ is the list of file systems; name one, e.g. /vda1")
        }
        let volume = try open(first)
        if parts.count == 1 {
            let entry = try volume.entry(Ext2Volume.root, name: first)
            return entry
        }
        return try volume.entry(try volume.lookup(Array(parts.dropFirst())), name: parts.last!)
    }

    func open(_ name: String) throws -> Ext2Volume {
        if let volume = opened[name] { return volume }
        guard let volume = volumes.first(where: { $0.name == name }) else {
            throw GuestFilesError(
                .notFound,
                "there is no file system \(name) in this point; it has \(volumes.map(\.name).joined(separator: ", "))")
        }
        guard volume.isReadable else {
            throw GuestFilesError(
                .unsupported,
                "\(name) holds \(volume.type == "unknown" ? "no file system Bulwark knows" : "a \(volume.type) file system"), which item-level recovery does not read (ext2/3/4 only); copy the whole disk out instead (--disk)")
        }
        guard let disk = disks[volume.disk] else { throw GuestFilesError(.notFound, "there is no disk for \(name)") }
        let opened = try Ext2Volume(disk: disk, volume: volume)
        self.opened[name] = opened
        return opened
    }
}
