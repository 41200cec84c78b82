import CGuestfs
import Foundation
import NBDServer

#if canImport(Glibc)
import Glibc
#endif

/// A libguestfs appliance reading a recovery point's disks: the file systems Bulwark does not read itself (LVM
/// logical volumes, XFS, NTFS) are mounted read-only inside it, never on the host.
///
/// The disks reach the appliance as read-only NBD exports on a private unix socket, served from the same reads
/// libext2fs gets (the datastore on the server, chunks from the server on an agent), so nothing is copied first.
/// libguestfs is opened with `dlopen` at first use: where it is not installed, ``load()`` says so and Bulwark reads
/// ext2/3/4 only.
///
/// A libguestfs handle is not thread-safe: the appliance is used by one thread at a time (its browser's owner
/// serializes). Closing it stops the appliance's QEMU and the NBD server.
final class GuestfsAppliance {
    /// The functions of libguestfs, or why they could not be loaded.
    static func load() -> Result<UnsafePointer<bulwark_guestfs_api>, GuestFilesError> {
        var reason: UnsafePointer<CChar>?
        guard let api = bulwark_guestfs_load(&reason) else {
            let why = reason.map { String(cString: $0) } ?? "unknown reason"
            return .failure(GuestFilesError(
                .unsupported,
                "libguestfs is not installed here (\(why)); install libguestfs-tools (and libguestfs-xfs for XFS) to read LVM, XFS and NTFS"))
        }
        return .success(api)
    }

    /// How long an appliance may take to start: about 20 s under TCG here, several times that on a loaded machine,
    /// seconds with KVM.
    static let startTimeout: Duration = .seconds(300)

    /// Every file system libguestfs found, once `/` was listed, named as in Bulwark's tree: `vdb2` for a partition,
    /// `vg0-root` for an LVM logical volume.
    private var listed: [GuestVolume]?
    /// The devices `lvs` lists, once a path asked for a logical volume.
    private var logicalVolumes: [String]?
    private let targets: [String]

    private let api: UnsafePointer<bulwark_guestfs_api>
    private let handle: OpaquePointer
    private let server: NBDServer
    private let directory: String
    /// Each volume's name in the appliance (`/dev/sdb2`, `/dev/vg0/root`).
    private var devices: [String: String] = [:]
    private var mounted: String?

    /// Serves `disks` to a new appliance and starts it. Under TCG (no usable KVM) this takes tens of seconds.
    /// `path` is where libguestfs looks for its appliance, in place of its default (`LIBGUESTFS_PATH`). A start
    /// that takes longer than `startTimeout` is ended (``LaunchWatchdog``).
    /// The socket goes in a new folder under `workFolder`.
    init(
        disks: [any GuestDisk], workFolder: String = "/tmp", path: String? = nil,
        startTimeout: Duration = GuestfsAppliance.startTimeout
    ) throws(GuestFilesError) {
        let api = try Self.load().get()
        try? FileManager.default.createDirectory(atPath: workFolder, withIntermediateDirectories: true)
        var template = Array("\(workFolder)/bulwark-guestfs-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw GuestFilesError(.unsupported, "cannot make a folder for libguestfs's socket in \(workFolder): \(String(cString: strerror(errno)))")
        }
        let directory = String(cString: made)
        let server: NBDServer
        do {
            let exports = try NBDExports(disks.map { (name: $0.target, source: GuestDiskExport(disk: $0) as any NBDExportSource) })
            server = try NBDServer(socketPath: "\(directory)/nbd.sock", exports: exports)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw GuestFilesError(.unsupported, "cannot serve the point's disks to libguestfs: \(error)")
        }
        guard let handle = api.pointee.create() else {
            server.stop()
            try? FileManager.default.removeItem(atPath: directory)
            throw GuestFilesError(.unsupported, "libguestfs could not make a handle (guestfs_create failed); run libguestfs-test-tool to see why")
        }
        // Errors are read with guestfs_last_error and put in Bulwark's own messages, not printed to stderr.
        api.pointee.set_error_handler(handle, nil, nil)
        self.api = api
        self.handle = handle
        self.server = server
        self.directory = directory
        self.targets = disks.map(\.target)
        // Every property is set: a failure from here on is cleaned up by deinit.
        // The direct backend runs QEMU itself; libvirt's would need the appliance readable by its QEMU user.
        if ProcessInfo.processInfo.environment["LIBGUESTFS_BACKEND"] == nil {
            try check(api.pointee.set_backend(handle, "direct"), "choose libguestfs's direct backend")
        }
        if let path { try check(api.pointee.set_path(handle, path), "look for the appliance in \(path)") }
        let socket = strdup("unix:\(server.socketPath)")
        defer { free(socket) }
        var serverList: [UnsafeMutablePointer<CChar>?] = [socket, nil]
        for disk in disks {
            let added = serverList.withUnsafeMutableBufferPointer { list in
                var options = bulwark_guestfs_nbd_drive(list.baseAddress)
                return api.pointee.add_drive_opts_argv(handle, disk.target, &options)
            }
            try check(added, "give disk \(disk.target) to libguestfs")
        }
        // The QEMU reads an overlay, not the socket: its name (`-name`, the socket folder's) is what the watchdog
        // finds it by.
        let marker = URL(fileURLWithPath: directory).lastPathComponent
        try check(api.pointee.config(handle, "-name", marker), "name the appliance \(marker)")
        let watchdog = LaunchWatchdog(marker: marker, timeout: startTimeout)
        let launched = api.pointee.launch(handle)
        if watchdog.finish() {
            throw GuestFilesError(
                .unsupported,
                "the libguestfs appliance did not start within \(startTimeout) and was stopped; where KVM does not work inside this machine (nested virtualisation), set LIBGUESTFS_BACKEND_SETTINGS=force_tcg for bulwarkd and the agent (run libguestfs-test-tool to see why)")
        }
        try check(launched, "start the libguestfs appliance (run libguestfs-test-tool to see why; where KVM does not work, set LIBGUESTFS_BACKEND_SETTINGS=force_tcg)")
    }

    /// Every file system libguestfs finds, named as in Bulwark's tree, with type, label and size. Probing them all
    /// takes seconds under TCG, so it is done only for a listing of `/`, once.
    func volumes() throws(GuestFilesError) -> [GuestVolume] {
        if let listed { return listed }
        var volumes: [GuestVolume] = []
        let found = try strings(api.pointee.list_filesystems(handle), "list the file systems libguestfs finds")
        for pair in stride(from: 0, to: found.count - 1, by: 2) {
            let device = found[pair]
            let type = found[pair + 1]
            guard let (name, disk) = Self.name(of: device, disks: targets) else { continue }
            let size = api.pointee.blockdev_getsize64(handle, device)
            var volume = GuestVolume(name: name, disk: disk, offset: 0, size: size > 0 ? UInt64(size) : 0, type: type)
            volume.throughLibguestfs = !["swap", "unknown"].contains(type)
            if let label = api.pointee.vfs_label(handle, device) {
                let text = String(cString: label)
                free(label)
                volume.label = text.isEmpty ? nil : text
            }
            volumes.append(volume)
            devices[name] = device
        }
        listed = volumes
        return volumes
    }

    /// The volume `name` (`vdb2`, `vg0-root`) with its type, without probing the others; nil when there is none.
    func volume(named name: String) throws(GuestFilesError) -> GuestVolume? {
        if let listed { return listed.first { $0.name == name } }
        guard let device = try device(for: name), let (_, disk) = Self.name(of: device, disks: targets) else { return nil }
        // An error here is a device that is not there (a partition number the disk does not have).
        guard let probed = api.pointee.vfs_type(handle, device) else { return nil }
        let text = String(cString: probed)
        free(probed)
        let type = text.isEmpty ? "unknown" : text
        var volume = GuestVolume(name: name, disk: disk, offset: 0, size: 0, type: type)
        volume.throughLibguestfs = !["swap", "unknown", "LVM2_member"].contains(type)
        return volume
    }

    /// The appliance's device for `name`: `vdb2` is `/dev/sdb2` (disks are added in order), `VG-LV` one of the
    /// logical volumes `lvs` lists.
    private func device(for name: String) throws(GuestFilesError) -> String? {
        if let device = devices[name] { return device }
        for (index, target) in targets.enumerated() where name.hasPrefix(target) {
            let number = name.dropFirst(target.count)
            guard number.allSatisfy(\.isNumber) else { continue }
            let device = "/dev/sd\(Self.letters(index))\(number)"
            devices[name] = device
            return device
        }
        if logicalVolumes == nil {
            logicalVolumes = try strings(api.pointee.lvs(handle), "list the LVM logical volumes")
        }
        for device in logicalVolumes ?? [] where Self.name(of: device, disks: targets)?.name == name {
            devices[name] = device
            return device
        }
        return nil
    }

    /// The letters of the `index`th disk's device name: `a` for the first, `z`, then `aa`.
    static func letters(_ index: Int) -> String {
        var number = index + 1
        var letters = ""
        while number > 0 {
            let digit = (number - 1) % 26
            letters = String(UnicodeScalar(UInt8(97 + digit))) + letters
            number = (number - 1) / 26
        }
        return letters
    }

    /// Whether the appliance still answers: its QEMU may have died (killed, out of memory).
    var isReady: Bool { api.pointee.is_ready(handle) == 1 }

    /// The process id of the appliance's QEMU, while it runs.
    var pid: Int32? {
        let pid = api.pointee.get_pid(handle)
        return pid > 0 ? pid : nil
    }

    deinit {
        _ = api.pointee.shutdown(handle)
        api.pointee.close(handle)
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Bulwark's name for an appliance device: disks are added in order, so `/dev/sdb2` is the second partition
    /// of the second disk; `/dev/VG/LV` is `VG-LV`. Other kinds (btrfs subvolumes, encrypted volumes) are left out.
    static func name(of device: String, disks: [String]) -> (name: String, disk: String)? {
        let parts = device.split(separator: "/").map(String.init)
        guard parts.count >= 2, parts[0] == "dev" else { return nil }
        if parts.count == 3 { return ("\(parts[1])-\(parts[2])", "lvm") }
        guard parts.count == 2, parts[1].hasPrefix("sd") else { return nil }
        let rest = parts[1].dropFirst(2)
        let letters = rest.prefix { $0 >= "a" && $0 <= "z" }
        let number = rest.dropFirst(letters.count)
        guard !letters.isEmpty, number.allSatisfy(\.isNumber) else { return nil }
        // sda…sdz, then sdaa…: bijective base 26.
        let index = letters.unicodeScalars.reduce(0) { $0 * 26 + Int($1.value - 96) } - 1
        guard index < disks.count else { return nil }
        return (disks[index] + number, disks[index])
    }

    /// Mounts `name` read-only at the appliance's `/`, unmounting the one mounted before.
    private func mount(_ name: String) throws(GuestFilesError) {
        guard mounted != name else { return }
        guard let device = try device(for: name) else { throw GuestFilesError(.notFound, "libguestfs found no file system \(name)") }
        if mounted != nil {
            try check(api.pointee.umount_all(handle), "unmount \(mounted ?? "")")
            mounted = nil
        }
        do {
            try check(api.pointee.mount_ro(handle, device, "/"), "mount \(name) read-only")
        } catch {
            throw GuestFilesError(.corrupt, "\(error.message); the guest's file system may be damaged")
        }
        mounted = name
    }

    private static func path(_ components: [String]) -> String { "/" + components.joined(separator: "/") }

    /// The entry at `components` of volume `name`, links not followed.
    func entry(_ name: String, _ components: [String]) throws(GuestFilesError) -> GuestEntry {
        try mount(name)
        let path = Self.path(components)
        guard let status = api.pointee.lstatns(handle, path) else {
            throw failure("look up \(path) in \(name)", notFound: "there is no \(components.joined(separator: "/")) in \(name)")
        }
        defer { api.pointee.free_statns(status) }
        var entry = Self.entry(components.last ?? name, status.pointee)
        if entry.kind == .symlink {
            guard let target = api.pointee.readlink(handle, path) else { throw failure("read link \(path) in \(name)") }
            entry.target = String(cString: target)
            free(target)
        }
        return entry
    }

    /// The entries of the folder at `components` of volume `name`, sorted by name.
    func list(_ name: String, _ components: [String]) throws(GuestFilesError) -> [GuestEntry] {
        try mount(name)
        let path = Self.path(components)
        let names = try strings(api.pointee.ls(handle, path), "list \(path) in \(name)").sorted()
        var entries: [GuestEntry] = []
        // In batches: one libguestfs message holds at most a few MiB of answers.
        for start in stride(from: 0, to: names.count, by: 256) {
            let batch = Array(names[start..<min(start + 256, names.count)])
            let copies = batch.map { strdup($0) } + [nil]
            defer { for copy in copies { free(copy) } }
            let (statuses, targets) = try copies.withUnsafeBufferPointer { list throws(GuestFilesError) in
                guard let statuses = api.pointee.lstatnslist(handle, path, list.baseAddress) else {
                    throw failure("read the entries of \(path) in \(name)")
                }
                defer { api.pointee.free_statns_list(statuses) }
                let values = (0..<Int(statuses.pointee.len)).map { statuses.pointee.val[$0] }
                let targets = try strings(api.pointee.readlinklist(handle, path, list.baseAddress), "read the links in \(path) in \(name)")
                return (values, targets)
            }
            guard statuses.count == batch.count else { throw GuestFilesError(.corrupt, "libguestfs answered \(statuses.count) entries for \(batch.count) in \(path) of \(name)") }
            for (index, entryName) in batch.enumerated() {
                var entry = Self.entry(entryName, statuses[index])
                if entry.kind == .symlink, index < targets.count { entry.target = targets[index] }
                entries.append(entry)
            }
        }
        return entries
    }

    /// Hands the content of the file at `components` of volume `name` to `body` in pieces, in order.
    func read(_ name: String, _ components: [String], _ body: ([UInt8]) throws -> Void) throws {
        try mount(name)
        let path = Self.path(components)
        var offset: Int64 = 0
        while true {
            var got = 0
            guard let bytes = api.pointee.pread(handle, path, 1 << 20, offset, &got) else {
                throw failure("read \(path) in \(name) at byte \(offset)")
            }
            let piece = [UInt8](UnsafeRawBufferPointer(start: bytes, count: got))
            free(bytes)
            if got == 0 { return }
            try body(piece)
            offset += Int64(got)
        }
    }

    private static func entry(_ name: String, _ status: guestfs_statns) -> GuestEntry {
        let mode = UInt32(truncatingIfNeeded: status.st_mode)
        let kind = GuestEntry.Kind(mode: mode)
        return GuestEntry(
            name: name, kind: kind, size: UInt64(max(0, status.st_size)), mode: mode & 0o7777,
            modified: Date(timeIntervalSince1970: TimeInterval(status.st_mtime_sec) + TimeInterval(status.st_mtime_nsec) / 1e9),
            accessed: Date(timeIntervalSince1970: TimeInterval(status.st_atime_sec) + TimeInterval(status.st_atime_nsec) / 1e9),
            inode: UInt64(bitPattern: status.st_ino))
    }

    private func check(_ result: Int32, _ what: String) throws(GuestFilesError) {
        guard result != -1 else { throw failure(what) }
    }

    private func failure(_ what: String, notFound: String? = nil) -> GuestFilesError {
        let message = api.pointee.last_error(handle).map { String(cString: $0) } ?? "no reason given"
        if !isReady {
            return GuestFilesError(
                .unsupported,
                "the libguestfs appliance reading this point stopped while trying to \(what) (\(message)); try again, which starts a new one")
        }
        if let notFound, api.pointee.last_errno(handle) == ENOENT { return GuestFilesError(.notFound, notFound) }
        return GuestFilesError(.unsupported, "libguestfs could not \(what): \(message)")
    }

    /// A NULL-terminated list libguestfs returned, copied and freed.
    private func strings(_ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ what: String) throws(GuestFilesError) -> [String] {
        guard let list else { throw failure(what) }
        defer { bulwark_guestfs_free_strings(list) }
        var values: [String] = []
        var index = 0
        while let item = list[index] {
            values.append(String(cString: item))
            index += 1
        }
        return values
    }
}

/// A guest disk as an NBD export for the appliance and the sandboxed reader: zero runs are passed on where the
/// disk knows them.
struct GuestDiskExport: NBDExportSource {
    let disk: any GuestDisk
    var size: UInt64 { disk.size }

    func read(offset: UInt64, length: Int) throws -> [NBDPiece] {
        if let source = disk as? any NBDExportSource { return try source.read(offset: offset, length: length) }
        return [.data(try disk.read(offset: offset, length: length))]
    }

    func extents(offset: UInt64, length: UInt64) throws -> [NBDExtent] {
        if let source = disk as? any NBDExportSource { return try source.extents(offset: offset, length: length) }
        return [NBDExtent(length: length, isZero: false)]
    }
}
