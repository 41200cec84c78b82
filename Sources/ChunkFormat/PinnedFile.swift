#if canImport(Glibc)
public import Glibc
#endif

/// A file or folder opened by walking its path one part at a time, following no symbolic link, and held open: what
/// bulwarkd and the agent read or write as root in a path someone else named (a seed image, a restore's folder).
///
/// Checking a path and then using it leaves a gap in which a local user who can write to one of its folders swaps a
/// part for a link, and root then writes through it. A pinned file closes the gap: everything after the open goes
/// through the descriptor, and a helper program (qemu-img, qemu-nbd) is given ``stablePath``, which reaches exactly
/// the opened file whatever is renamed or replaced along ``path`` since.
public final class PinnedFile: Sendable {
    /// The open descriptor; closed when the value goes.
    public let descriptor: Int32
    /// The path it was opened by, for messages.
    public let path: String

    private init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { close(descriptor) }

    /// The opened file or folder as another process of this host reaches it (`/proc/PID/fd/N`), for as long as
    /// this value lives.
    public var stablePath: String { "/proc/\(getpid())/fd/\(descriptor)" }

    /// Opens the file at `path` (absolute) with `flags`, refusing a symbolic link anywhere in it.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o600) throws(PinnedFileError) -> PinnedFile {
        let (folder, name) = try parent(of: path)
        return try folder.openEntry(name, flags: flags, mode: mode)
    }

    /// Opens the folder at `path` (absolute), refusing a symbolic link anywhere in it.
    public static func folder(_ path: String) throws(PinnedFileError) -> PinnedFile {
        guard path != "/" else { return try root() }
        let (folder, name) = try parent(of: path)
        return try folder.openEntry(name, flags: O_RDONLY | O_DIRECTORY, mode: 0)
    }

    /// Makes a new file `name` in this folder (never an existing one, never through a link) open for reading and
    /// writing.
    public func create(_ name: String, mode: mode_t = 0o600) throws(PinnedFileError) -> PinnedFile {
        try openEntry(name, flags: O_RDWR | O_CREAT | O_EXCL, mode: mode)
    }

    /// The file's type and size, from the descriptor.
    public func status() throws(PinnedFileError) -> stat {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system("read the status of", path, errno: errno) }
        return status
    }

    // MARK: - Walking

    private static func root() throws(PinnedFileError) -> PinnedFile {
        let descriptor = Glibc.open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("open", "/", errno: errno) }
        return PinnedFile(descriptor: descriptor, path: "/")
    }

    /// The folder holding the last part of `path`, pinned, and that part's name.
    private static func parent(of path: String) throws(PinnedFileError) -> (PinnedFile, String) {
        guard path.hasPrefix("/") else {
            throw PinnedFileError(.invalidPath, path: path, message: "\(path) is not an absolute path")
        }
        let parts = path.split(separator: "/").map(String.init)
        guard let last = parts.last, !parts.contains(where: { $0 == "." || $0 == ".." }) else {
            throw PinnedFileError(.invalidPath, path: path, message: "\(path) is not a plain path to a file (no '.' or '..' parts)")
        }
        var folder = try root()
        for part in parts.dropLast() {
            folder = try folder.openEntry(part, flags: O_RDONLY | O_DIRECTORY, mode: 0)
        }
        return (folder, last)
    }

    private func openEntry(_ name: String, flags: Int32, mode: mode_t) throws(PinnedFileError) -> PinnedFile {
        let full = path == "/" ? "/\(name)" : "\(path)/\(name)"
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw PinnedFileError(.invalidPath, path: full, message: "'\(name)' is not a file name")
        }
        let opened = openat(descriptor, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)
        guard opened >= 0 else {
            let number = errno
            // O_NOFOLLOW says ELOOP for a link at the end; O_DIRECTORY says ENOTDIR when a folder part is a link.
            var status = stat()
            if number == ELOOP || number == ENOTDIR, fstatat(descriptor, name, &status, AT_SYMLINK_NOFOLLOW) == 0,
                status.st_mode & S_IFMT == S_IFLNK
            {
                throw PinnedFileError(
                    .symbolicLink, path: full,
                    message: "\(full) is a symbolic link; give the real path (Bulwark follows no link in a path it writes or reads as root)")
            }
            throw .system("open", full, errno: number)
        }
        return PinnedFile(descriptor: opened, path: full)
    }
}

/// A path a ``PinnedFile`` would not open: a symbolic link in it, a path that is not plain, or the system's refusal.
public struct PinnedFileError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public static let symbolicLink = Code(name: "symbolic-link")
        public static let invalidPath = Code(name: "invalid-path")
        public static let system = Code(name: "system")
        public var description: String { name }
    }

    public var code: Code
    public var path: String
    public var message: String
    /// The system's error number, for `system`.
    public var errno: Int32?

    public init(_ code: Code, path: String, message: String, errno: Int32? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
    }

    static func system(_ operation: String, _ path: String, errno number: Int32) -> PinnedFileError {
        PinnedFileError(
            .system, path: path, message: "cannot \(operation) \(path): \(String(cString: strerror(number)))", errno: number)
    }

    public var description: String { message }
}
