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
        if mkdir(path, 0o700) == 0 { return true }
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
        guard let descriptor = try openForReading(path) else { return nil }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw .system("inspect", path, errno: errno) }
        var failure: DatastoreError?
        // Uninitialized: zeroing megabytes only to read over them cost a restore as much as its CRC-32 checks.
        let bytes = [UInt8](unsafeUninitializedCapacity: Int(info.st_size)) { buffer, count in
            do throws(DatastoreError) {
                // A file that shrank under us reads short; the caller's length checks report it.
                count = try readFully(descriptor, into: UnsafeMutableRawBufferPointer(buffer), path: path)
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Reads a file into `buffer`, at most its size; returns the bytes read, fewer when the file is shorter, and
    /// `nil` when the file does not exist.
    static func read(_ path: String, into buffer: UnsafeMutableRawBufferPointer) throws(DatastoreError) -> Int? {
        guard let descriptor = try openForReading(path) else { return nil }
        defer { close(descriptor) }
        return try readFully(descriptor, into: buffer, path: path)
    }

    /// A descriptor of `path` opened for reading; `nil` when the file does not exist.
    private static func openForReading(_ path: String) throws(DatastoreError) -> Int32? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let number = errno
            if number == ENOENT { return nil }
            throw .system("open", path, errno: number)
        }
        return descriptor
    }

    /// Reads from `descriptor` until `buffer` is full or the file ends; returns the bytes read.
    private static func readFully(
        _ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String
    ) throws(DatastoreError) -> Int {
        var offset = 0
        while offset < buffer.count {
            let count = Foundation.read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("read", path, errno: errno)
            }
            if count == 0 { break }
            offset += count
        }
        return offset
    }

    /// Reads up to `count` bytes from the start of a file; `nil` when it does not exist.
    static func readPrefix(_ path: String, count: Int) throws(DatastoreError) -> [UInt8]? {
        guard let descriptor = try openForReading(path) else { return nil }
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
    ///
    /// With `direct`, the bulk of the file is written with `O_DIRECT` (see ``writeDirect(_:to:path:)``); where the
    /// file system refuses that (tmpfs), the write is buffered as usual.
    static func writeAtomically(
        _ bytes: [UInt8], to path: String, durable: Bool = true, direct: Bool = false
    ) throws(DatastoreError) {
        let temporary = temporaryName(for: path)
        var descriptor: Int32 = -1
        var isDirect = false
        if direct, bytes.count >= directAlignment {
            descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | bulwark_o_direct(), 0o600)
            isDirect = descriptor >= 0
            if descriptor < 0, errno != EINVAL { throw .system("create", temporary, errno: errno) }
        }
        if descriptor < 0 { descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) }
        guard descriptor >= 0 else { throw .system("create", temporary, errno: errno) }
        var closed = false
        defer {
            if !closed { close(descriptor) }
        }
        do throws(DatastoreError) {
            if isDirect {
                try writeDirect(bytes, to: descriptor, path: temporary)
            } else {
                try writeAll(bytes, to: descriptor, path: temporary)
            }
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

    /// Writes a new file (it must not exist) with `mode`, without flushing: for copies that can be fetched again.
    static func writeNew(_ bytes: [UInt8], to path: String, mode: mode_t) throws(DatastoreError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .system("create", path, errno: errno) }
        do throws(DatastoreError) {
            try writeAll(bytes, to: descriptor, path: path)
            guard fchmod(descriptor, mode) == 0 else { throw .system("set the mode of", path, errno: errno) }
            guard close(descriptor) == 0 else { throw .system("close", path, errno: errno) }
        } catch {
            unlink(path)
            throw error
        }
    }

    /// Swaps the files at `a` and `b` atomically; `false` when either is gone (nothing changed then).
    static func exchange(_ a: String, _ b: String) throws(DatastoreError) -> Bool {
        if bulwark_exchange(a, b) == 0 { return true }
        if errno == ENOENT { return false }
        throw .system("swap with \(b):", a, errno: errno)
    }

    /// Renames `source` to `target`, replacing it.
    static func move(_ source: String, to target: String) throws(DatastoreError) {
        guard rename(source, target) == 0 else { throw .system("rename into place", source, errno: errno) }
    }

    /// The alignment `O_DIRECT` needs of buffers, lengths and offsets; a multiple of every block size in use.
    static let directAlignment = 4096

    /// Writes through a descriptor opened with `O_DIRECT`: the aligned bulk straight from an aligned copy of the
    /// bytes to the device, then `O_DIRECT` cleared and the short tail written buffered.
    ///
    /// Buffered writes copy every byte into the page cache, which on the machines Bulwark was measured on cost more
    /// CPU than hashing the data; the direct write costs next to none. The data still needs the file system's
    /// flush to be durable, like a buffered write.
    static func writeDirect(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(DatastoreError) {
        let bulk = bytes.count / directAlignment * directAlignment
        var aligned: UnsafeMutableRawPointer?
        guard posix_memalign(&aligned, directAlignment, bulk) == 0, let aligned else {
            throw DatastoreError(.io, "cannot allocate \(bulk) bytes to write \(path)")
        }
        defer { free(aligned) }
        bytes.withUnsafeBytes { source in aligned.copyMemory(from: source.baseAddress!, byteCount: bulk) }
        var offset = 0
        while offset < bulk {
            let count = write(descriptor, aligned + offset, bulk - offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw .system("write", path, errno: errno)
            }
            // A short direct write leaves an unaligned remainder: the buffered tail below takes it.
            if count == 0 || count % directAlignment != 0 {
                offset += max(count, 0)
                break
            }
            offset += count
        }
        let flags = fcntl(descriptor, F_GETFL)
        guard flags >= 0, fcntl(descriptor, F_SETFL, flags & ~bulwark_o_direct()) == 0 else {
            throw .system("switch to buffered writes on", path, errno: errno)
        }
        guard lseek(descriptor, off_t(offset), SEEK_SET) == off_t(offset) else {
            throw .system("seek in", path, errno: errno)
        }
        try writeAll(Array(bytes[offset...]), to: descriptor, path: path)
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
