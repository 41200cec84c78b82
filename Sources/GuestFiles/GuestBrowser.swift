import Foundation
import CExt2

/// The files of a recovery point's guest file systems, under one tree: `/` lists the file systems (`vda1`,
/// `vdb`, `vg0-root`), and `/vdb1/etc/hosts` is a file in the first partition of `vdb`. Nothing is mounted on the
/// host and no guest runs: ext2/3/4 are read with libext2fs from the point's bytes; LVM logical volumes, XFS, NTFS
/// and the rest libguestfs knows are read in a libguestfs appliance where libguestfs is installed, and listed by
/// type otherwise.
///
/// The appliance starts only when a path needs it (or `/` is listed on a point with LVM), once per browser: keep a
/// browser for as long as one point is browsed.
///
/// Not thread-safe (libext2fs and libguestfs handles are not): use a browser from one thread at a time.
public final class GuestBrowser {
    /// What the partition tables show, read without libguestfs.
    private let native: [GuestVolume]
    private let disks: [any GuestDisk]
    private var opened: [String: any GuestFileSystem] = [:]
    private var appliance: GuestfsAppliance?
    /// Why the appliance could not start: kept, so that each later call says so at once instead of trying again.
    private var applianceFailure: GuestFilesError?
    private let workFolder: String
    private let appliancePath: String?
    private let applianceStartTimeout: Duration

    /// `workFolder` holds the appliance's socket folder while it runs: one its owner clears when it starts, so that
    /// a process killed with an appliance running leaves nothing behind.
    public convenience init(disks: [any GuestDisk], workFolder: String = "/tmp") throws {
        try self.init(disks: disks, workFolder: workFolder, appliancePath: nil)
    }

    /// `appliancePath` is where libguestfs looks for its appliance, in place of its default; an appliance start that
    /// takes longer than `applianceStartTimeout` is ended.
    init(
        disks: [any GuestDisk], workFolder: String = "/tmp", appliancePath: String?,
        applianceStartTimeout: Duration = GuestfsAppliance.startTimeout
    ) throws {
        var volumes: [GuestVolume] = []
        for disk in disks { volumes += try PartitionTable.volumes(of: disk) }
        self.native = volumes
        self.disks = disks
        self.workFolder = workFolder
        self.appliancePath = appliancePath
        self.applianceStartTimeout = applianceStartTimeout
    }

    /// Whether libguestfs can be used here; `nil` when it can, otherwise why not.
    public static var libguestfsUnavailable: String? {
        if case .failure(let error) = GuestfsAppliance.load() { return error.message }
        return nil
    }

    /// The point's file systems, as `/` lists them. On a point with LVM this starts the libguestfs appliance (where
    /// libguestfs is installed), which alone sees the logical volumes; when it cannot start, the list is what the
    /// partition tables show, and opening a logical volume says why.
    public func volumes() throws -> [GuestVolume] {
        _ = dropStoppedAppliance()
        if appliance == nil, native.contains(where: { $0.type == "lvm2" }), Self.libguestfsUnavailable == nil {
            _ = try? startAppliance()
        }
        guard let appliance else { return native }
        // ext2/3/4 stay with libext2fs (faster, and no appliance needed to read them); libguestfs names the rest.
        var merged = native.filter { $0.isReadable }
        for volume in try appliance.volumes() where !merged.contains(where: { $0.name == volume.name }) { merged.append(volume) }
        for volume in native where !merged.contains(where: { $0.name == volume.name }) { merged.append(volume) }
        return merged
    }

    /// The appliance's QEMU, while one runs (tests stop it to see the browser start another).
    var appliancePID: Int32? { appliance?.pid }

    /// Forgets an appliance whose QEMU stopped, and the file systems read through it, so the next call starts a new
    /// one; true when there was one.
    private func dropStoppedAppliance() -> Bool {
        guard let appliance, !appliance.isReady else { return false }
        self.appliance = nil
        opened = opened.filter { !($0.value is GuestfsFileSystem) }
        return true
    }

    /// Runs `body` once more with a new appliance when the one it used stopped under it.
    private func retryingOnStoppedAppliance<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            guard dropStoppedAppliance() else { throw error }
            return try body()
        }
    }

    private func startAppliance() throws(GuestFilesError) -> GuestfsAppliance {
        if let appliance { return appliance }
        if let applianceFailure { throw applianceFailure }
        do {
            let started = try GuestfsAppliance(
                disks: disks, workFolder: workFolder, path: appliancePath, startTimeout: applianceStartTimeout)
            appliance = started
            return started
        } catch {
            applianceFailure = error
            throw error
        }
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
        try retryingOnStoppedAppliance { try listOnce(path) }
    }

    private func listOnce(_ path: String) throws -> [GuestEntry] {
        let parts = try Self.components(path)
        guard let first = parts.first else {
            return try volumes().map { volume in
                GuestEntry(
                    name: volume.name, kind: .filesystem, size: volume.size, mode: 0o755, modified: .distantPast,
                    accessed: .distantPast, fileSystem: volume.type, label: volume.label)
            }
        }
        let fileSystem = try open(first)
        let rest = Array(parts.dropFirst())
        let entry = try fileSystem.entry(rest)
        return entry.kind == .directory ? try fileSystem.list(rest) : [entry]
    }

    /// The entry at `path`.
    public func entry(_ path: String) throws -> GuestEntry {
        try retryingOnStoppedAppliance { try entryOnce(path) }
    }

    private func entryOnce(_ path: String) throws -> GuestEntry {
        let parts = try Self.components(path)
        guard let first = parts.first else {
            throw GuestFilesError(.invalid, "/ is the list of file systems; name one, e.g. /vda1")
        }
        return try open(first).entry(Array(parts.dropFirst()))
    }

    /// The file system named `name` (the first part of a path), opened once.
    func open(_ name: String) throws -> any GuestFileSystem {
        _ = dropStoppedAppliance()
        if let fileSystem = opened[name] { return fileSystem }
        let volume = native.first { $0.name == name }
        if let volume, volume.isReadable {
            guard let disk = disks.first(where: { $0.target == volume.disk }) else {
                throw GuestFilesError(.notFound, "there is no disk for \(name)")
            }
            let fileSystem = try Ext2Volume(disk: disk, volume: volume)
            opened[name] = fileSystem
            return fileSystem
        }
        // Not one libext2fs reads, or not on a partition table (a logical volume): libguestfs's, where it is here.
        let unavailable = Self.libguestfsUnavailable
        if let volume, volume.type == "lvm2" {
            throw GuestFilesError(
                .unsupported,
                "\(name) is an LVM physical volume, which holds no files itself: its logical volumes are listed in / as VG-LV"
                    + (unavailable.map { " where libguestfs is installed (\($0))" } ?? ""))
        }
        if unavailable == nil, volume != nil || native.contains(where: { $0.type == "lvm2" }) {
            let appliance = try startAppliance()
            if let found = try appliance.volume(named: name) {
                guard found.isReadable else {
                    throw GuestFilesError(.unsupported, "\(name) holds \(found.type == "unknown" ? "no file system libguestfs knows" : "a \(found.type) volume"), which has no files to list; copy the whole disk out instead (--disk)")
                }
                let fileSystem = GuestfsFileSystem(appliance: appliance, name: name)
                opened[name] = fileSystem
                return fileSystem
            }
        }
        guard let volume else {
            throw GuestFilesError(
                .notFound,
                "there is no file system \(name) in this point; it has \(try volumes().map(\.name).joined(separator: ", "))")
        }
        let reason = unavailable.map { ": \($0)" } ?? " (nor does libguestfs)"
        throw GuestFilesError(
            .unsupported,
            "\(name) holds \(volume.type == "unknown" ? "no file system Bulwark knows" : "a \(volume.type) file system"), which Bulwark reads only as ext2/3/4 itself\(reason); copy the whole disk out instead (--disk)")
    }
}
