public import Foundation

/// How `bulwark-guest-reader` is started: as an unprivileged user (65534 unless told otherwise) in namespaces of its
/// own made by bubblewrap (user, mount, PID, network, IPC, UTS, cgroup), with no capabilities, a read-only view of
/// `/usr` and the Swift runtime and nothing else of the host (no data directory, datastore or key), and limits on
/// memory, CPU time and open files; a parent watchdog ends it when an answer takes longer than ``answerTimeout``.
public struct GuestReaderSandbox: Sendable, Hashable {
    /// The helper executable.
    public var helper: String
    public var bubblewrap = "/usr/bin/bwrap"
    /// Who the helper runs as on the host when the parent is root; inside its user namespace it has the same ids.
    public var userID: UInt32 = 65534
    public var groupID: UInt32 = 65534
    /// Address space (RLIMIT_AS) of the helper and what it starts (the libguestfs appliance's QEMU among them).
    public var memoryBytes: UInt64 = 8 << 30
    /// CPU time (RLIMIT_CPU) over the helper's whole life.
    public var cpuSeconds = 3600
    public var openFiles = 256
    /// The longest the helper may take to send the next frame of an answer.
    public var answerTimeout: Duration = .seconds(120)
    /// Where the private folder with the disks' NBD socket is made: it must be reachable by ``userID``.
    public var socketParent = "/tmp"
    /// A libguestfs fixed appliance (a folder with `kernel`, `initrd` and `root`), built as root outside the
    /// sandbox: inside it, supermin cannot build one (every host file looks owned by nobody there, so the
    /// appliance's setuid tools would not run as root). Nil: LVM, XFS and NTFS cannot be read.
    public var appliance: String?
    /// Lets tests make the helper crash or hang on purpose (paths ending in `__crash__` or `__hang__`).
    public var testFaults = false

    public init(helper: String) { self.helper = helper }

    /// The name of the helper executable, next to `bulwarkd` and `bulwark-agent`.
    public static let helperName = "bulwark-guest-reader"

    /// The sandbox with the helper found where Bulwark installs it: `$BULWARK_GUEST_READER`, next to this
    /// process's executable, or in `/usr/local/lib/bulwark` or `/usr/lib/bulwark`.
    public static func located(environment: [String: String] = ProcessInfo.processInfo.environment) throws(GuestFilesError)
        -> GuestReaderSandbox
    {
        var candidates: [String] = []
        if let path = environment["BULWARK_GUEST_READER"] { candidates.append(path) }
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var folder = (executable as NSString).deletingLastPathComponent
            // Test bundles run from inside `.build/debug/X.xctest` on some setups.
            if folder.hasSuffix(".xctest") { folder = (folder as NSString).deletingLastPathComponent }
            candidates.append("\(folder)/\(helperName)")
        }
        candidates += ["/usr/local/lib/bulwark/\(helperName)", "/usr/lib/bulwark/\(helperName)"]
        guard let helper = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw GuestFilesError(
                .unsupported,
                "\(helperName), which reads guest file systems in a sandbox, is not installed (looked in \(candidates.joined(separator: ", "))); install it next to bulwarkd or set BULWARK_GUEST_READER")
        }
        var sandbox = GuestReaderSandbox(helper: helper)
        sandbox.appliance = applianceCandidates(environment).first { folder in
            ["kernel", "initrd", "root"].allSatisfy { FileManager.default.fileExists(atPath: "\(folder)/\($0)") }
        }
        return sandbox
    }

    /// Where a fixed appliance is looked for: `$BULWARK_GUESTFS_APPLIANCE`, the one
    /// `libguestfs-make-fixed-appliance /var/cache/bulwark/guestfs-appliance` makes, and libguestfs's own cache of
    /// root's appliance.
    public static func applianceCandidates(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        (environment["BULWARK_GUESTFS_APPLIANCE"].map { [$0] } ?? [])
            + ["/var/cache/bulwark/guestfs-appliance", "/var/tmp/.guestfs-0/appliance.d"]
    }

    /// Where the helper sees its own executable and the parent's socket folder.
    static let helperInside = "/run/bulwark/\(helperName)"
    static let socketsInside = "/run/bulwark/disks"

    /// The Swift runtime libraries this process loaded (the helper is built with the same toolchain), unless they
    /// are under `/usr`, which the helper sees anyway.
    static var swiftRuntimeFolder: String? {
        // /proc files say they are empty: read them to their end, not to their size.
        guard let maps = FileHandle(forReadingAtPath: "/proc/self/maps").map({ String(decoding: $0.readDataToEndOfFile(), as: UTF8.self) }) else {
            return nil
        }
        for line in maps.split(separator: "\n") {
            guard let start = line.firstIndex(of: "/"), line.hasSuffix("/libswiftCore.so") else { continue }
            let folder = (String(line[start...]) as NSString).deletingLastPathComponent
            return folder.hasPrefix("/usr/") ? nil : folder
        }
        return nil
    }

    /// The command that starts the helper over the NBD socket `socket` (in `socketFolder`) serving `disks`.
    func command(socketFolder: String, socket: String, disks: [String], asRoot: Bool) -> [String] {
        var command: [String] = []
        if asRoot {
            // Off root before anything else runs, so that even a way out of the namespaces lands on an unprivileged
            // user.
            command += [
                "/usr/bin/setpriv", "--reuid=\(userID)", "--regid=\(groupID)", "--clear-groups", "--inh-caps=-all",
                "--",
            ]
        }
        command += [
            "/usr/bin/prlimit", "--as=\(memoryBytes)", "--cpu=\(cpuSeconds)", "--nofile=\(openFiles)", "--core=0", "--",
            bubblewrap, "--unshare-all", "--uid", "\(userID)", "--gid", "\(groupID)", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--clearenv",
            "--setenv", "PATH", "/usr/bin:/usr/sbin", "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp",
            // No /dev/kvm in the sandbox: the appliance runs under TCG. No backtracer either.
            "--setenv", "LIBGUESTFS_BACKEND", "direct", "--setenv", "LIBGUESTFS_BACKEND_SETTINGS", "force_tcg",
            "--setenv", "SWIFT_BACKTRACE", "enable=no",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--symlink", "usr/bin", "/bin",
            "--symlink", "usr/sbin", "/sbin",
            "--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp",
        ]
        if let runtime = Self.swiftRuntimeFolder { command += ["--ro-bind", runtime, runtime] }
        if let appliance {
            let inside = "/run/bulwark/appliance"
            for file in ["kernel", "initrd", "root"] { command += ["--ro-bind", "\(appliance)/\(file)", "\(inside)/\(file)"] }
            // libguestfs takes a folder as a fixed appliance when it holds README.fixed; any file will do.
            command += ["--symlink", "kernel", "\(inside)/README.fixed", "--setenv", "LIBGUESTFS_PATH", inside]
        }
        command += [
            "--ro-bind", helper, Self.helperInside, "--ro-bind", socketFolder, Self.socketsInside, "--chdir", "/tmp",
            "--", Self.helperInside, "--socket", "\(Self.socketsInside)/\(socket)",
        ]
        for disk in disks { command += ["--disk", disk] }
        if testFaults { command.append("--test-faults") }
        return command
    }
}
