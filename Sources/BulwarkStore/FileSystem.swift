import CLinux
import Foundation

/// The POSIX calls the datastore makes, with `errno` turned into ``DatastoreError``.
///
/// Foundation's `FileManager` hides `errno` and cannot fsync, and the datastore's crash safety rests on both, so
/// every write goes through here.
enum FileSystem {
    /// Whether anything (file, folder, link) exists at `path`.
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Whether `path` is a folder (following links).
    static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }

    /// The size and modification time of the file at `path`; `nil` when there is none.
    static func status(_ path: String) -> (size: UInt64, modified: Date, isDirectory: Bool)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        let modified = Date(
            timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1_000_000_000)
        return (UInt64(info.st_size), modified, info.st_mode & S_IFMT == S_IFDIR)
    }

    /// Sets the modification time of `path` to now; `false` when the file does not exist.
    static func touch(_ path: String) throws(DatastoreError) -> Bool {
        if utimensat(AT_FDCWD, path, nil, 0) == 0 { return true }
        let number = errno
        if number == ENOENT { return false }
        throw .system("update the time of", path, errno: number)
    }

    /// The names in a folder, without `.` and `..`; `nil` when the folder does not exist.
    static func list(_ path: String) throws(DatastoreError) -> [String]? {
        guard let directory = opendir(path) else {
            let number = errno
            if number == ENOENT { return nil }
            throw .system("list", path, errno: number)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Creates a folder; `false` when it existed already.
    @discardableResult
    static func makeDirectory(_ path: String) throws(DatastoreError) -> Bool {
        if mkdir(path, 0o755) == 0 { return true }
        let number = errno
        if number == EEXIST, isDirectory(path) { return false }
        throw .system("create the folder", path, errno: number)
    }

    /// Flushes a folder's entries to disk, so that a file created or renamed in it survives a power cut.
    static func syncDirectory(_ path: String) throws(DatastoreError) {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("open the folder", path, errno: errno) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .system("flush the folder", path, errno: errno) }
    }

    /// Reads a whole file; `nil` when it does not exist.
    static func read(_ path: String) throws(DatastoreError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let number = errno
            if number == ENOENT { return nil }
            throw .system("open", path, errno: number)
        }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .system("inspect", path, errno: errno) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        let (failure, got) = bytes.withUnsafeMutableBytes { buffer -> (Int32, Int) in
            var offset = 0
            while offset < buffer.count {
                let count = Foundation.read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return (errno, offset)
                }
                if count == 0 { break }
                offset += count
            }
            return (0, offset)
        }
        if failure != 0 { throw .system("read", path, errno: failure) }
        // A file that shrank under us reads short; the caller's length checks report it.
        if got < bytes.count { bytes.removeSubrange(got...) }
        return bytes
    }

    /// Reads up to `count` bytes from the start of a file; `nil` when it does not exist.
    static func readPrefix(_ path: String, count: Int) throws(DatastoreError) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let number = errno
            if number == ENOENT { return nil }
            throw .system("open", path, errno: number)
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: count)
        let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, 0) }
        guard got >= 0 else { throw .system("read", path, errno: errno) }
        bytes.removeSubrange(got...)
        return bytes
    }

    /// A name for a temporary file next to `path`, unique to this writer. Garbage collection recognises the
    /// `.tmp-` infix and removes such files once they are older than the grace period (a writer that died).
    static func temporaryName(for path: String) -> String {
        "\(path)\(temporaryInfix)\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
    }

    static let temporaryInfix = ".tmp-"

    /// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the whole new one:
    /// temporary file in the same folder, write, fsync, rename over `path`, fsync the folder.
    ///
    /// With `durable: false` both flushes are left out: a killed process still leaves no partial file under
    /// `path`, but a power cut may; the caller flushes later (``syncFileSystem(of:)``) and checks what it finds
    /// after a crash.
    static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool = true) throws(DatastoreError) {
        let temporary = temporaryName(for: path)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .system("create", temporary, errno: errno) }
        var closed = false
        defer {
            if !closed { close(descriptor) }
        }
        do throws(DatastoreError) {
            try writeAll(bytes, to: descriptor, path: temporary)
            guard !durable || fsync(descriptor) == 0 else { throw .system("flush", temporary, errno: errno) }
            closed = true
            guard close(descriptor) == 0 else { throw .system("close", temporary, errno: errno) }
            guard rename(temporary, path) == 0 else { throw .system("rename into place", temporary, errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        if durable { try syncDirectory(parent(of: path)) }
    }

    /// Flushes every file and folder of the file system that holds `path` in one go (`syncfs(2)`): one journal
    /// commit for a whole batch of writes instead of one per file.
    static func syncFileSystem(of path: String) throws(DatastoreError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system("open", path, errno: errno) }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else { throw .system("flush the file system of", path, errno: errno) }
    }

    /// Renames `source` to `target`, replacing it.
    static func move(_ source: String, to target: String) throws(DatastoreError) {
        guard rename(source, target) == 0 else { throw .system("rename into place", source, errno: errno) }
    }

    static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(DatastoreError) {
        let failure = bytes.withUnsafeBytes { buffer -> Int32 in
            var offset = 0
            while offset < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += count
            }
            return 0
        }
        if failure != 0 { throw .system("write", path, errno: failure) }
    }

    /// Removes a file; `false` when it was gone already.
    @discardableResult
    static func remove(_ path: String) throws(DatastoreError) -> Bool {
        if unlink(path) == 0 { return true }
        let number = errno
        if number == ENOENT { return false }
        throw .system("remove", path, errno: number)
    }

    /// Removes a folder and everything in it (no links followed).
    static func removeTree(_ path: String) throws(DatastoreError) {
        guard let status = status(path) else { return }
        if status.isDirectory {
            for name in try list(path) ?? [] { try removeTree("\(path)/\(name)") }
            if rmdir(path) != 0, errno != ENOENT { throw .system("remove the folder", path, errno: errno) }
        } else {
            try remove(path)
        }
    }

    /// The folder holding `path`.
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
