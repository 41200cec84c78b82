import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Copies files and folders out of a ``GuestTree`` (a ``GuestBrowser``, or a sandboxed ``GuestReader``) into a folder, never writing outside it: every file is made
/// with `openat(O_CREAT|O_EXCL|O_NOFOLLOW)` relative to a folder descriptor opened with `O_NOFOLLOW`, so neither
/// a link in the guest nor one already in the target folder leads elsewhere. Links are recreated as links (never
/// followed); device nodes, FIFOs and sockets are skipped with a warning; names with `/` are refused. Content,
/// permission bits (setuid and setgid dropped) and times are kept; owners are not (guest ids mean nothing here). Runs
/// of zeros become holes, and a file never grows past the size its entry gave (the tree may be a helper that lies).
public struct GuestExtractor {
    /// What an extraction did.
    public struct Report: Sendable, Hashable {
        public var files = 0
        public var folders = 0
        public var links = 0
        public var bytes: UInt64 = 0
        /// Bytes written to disk: ``bytes`` less the holes.
        public var written: UInt64 = 0
        public var warnings: [String] = []
    }

    public let browser: any GuestTree
    /// Called after each piece written, with the bytes so far.
    public var progress: (UInt64) -> Void = { _ in }
    /// The most bytes one extraction writes (holes not counted): a guest's sizes are its own word, so a copy is
    /// bounded by what the caller knows the point can hold. Past it the extraction fails and removes what it made.
    public var byteLimit: UInt64

    public init(browser: any GuestTree, byteLimit: UInt64 = .max) {
        self.browser = browser
        self.byteLimit = byteLimit
    }

    /// Zeros are left as holes in blocks of this size (a multiple of every file system's block size).
    static let holeBlock = 64 << 10

    /// Extracts each of `paths` (a file, link or folder, recursively) into `folder` under its own name.
    ///
    /// All or nothing: a name already in `folder` refuses the extraction before anything is written, and a failure
    /// part-way (the disk full, a damaged guest file system) removes what this call made, never anything that was
    /// there before.
    public func extract(_ paths: [String], into folder: String) throws -> Report {
        let root = open(folder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else {
            throw GuestFilesError(.target, "cannot open the target folder \(folder): \(String(cString: strerror(errno))); it must be an existing folder, not a link")
        }
        defer { close(root) }
        var entries: [(path: String, entry: GuestEntry)] = []
        for path in paths {
            let parts = try GuestBrowser.components(path)
            guard parts.count >= 2 else {
                throw GuestFilesError(.invalid, "'\(path)' names a whole file system; name a folder in it (e.g. /\(parts.first ?? "vda1")/home) or copy the disk with --disk")
            }
            let entry = try browser.entry("/" + parts.joined(separator: "/"))
            var status = stat()
            guard fstatat(root, entry.name, &status, AT_SYMLINK_NOFOLLOW) != 0, errno == ENOENT else {
                throw GuestFilesError(.target, "\(folder)/\(entry.name) exists already; extract into a folder without it, nothing was copied")
            }
            guard !entries.contains(where: { $0.entry.name == entry.name }) else {
                throw GuestFilesError(.invalid, "two items are named \(entry.name); copy them into different folders")
            }
            entries.append(("/" + parts.joined(separator: "/"), entry))
        }
        var report = Report()
        var made: [String] = []
        do {
            for (path, entry) in entries {
                made.append(entry.name)
                var visited = Set<UInt64>()
                try write(entry, into: root, at: path, report: &report, visited: &visited, depth: 0)
            }
        } catch {
            for name in made { try? FileManager.default.removeItem(atPath: "\(folder)/\(name)") }
            throw error
        }
        return report
    }

    private func write(
        _ entry: GuestEntry, into folder: Int32, at path: String, report: inout Report, visited: inout Set<UInt64>,
        depth: Int
    ) throws {
        let name = entry.name
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.contains("\0") else {
            report.warnings.append("skipped \(path): the name cannot be a file name here")
            return
        }
        switch entry.kind {
        case .file:
            let file = openat(folder, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            guard file >= 0 else { throw targetError("create", path) }
            var failed: (any Error)?
            do {
                var length: UInt64 = 0
                try browser.read(path) { bytes in
                    length += UInt64(bytes.count)
                    guard length <= entry.size else {
                        throw GuestFilesError(.corrupt, "\(path) holds more than the \(entry.size) bytes its entry says; the guest's file system is damaged or hostile")
                    }
                    try bytes.withUnsafeBytes { buffer in
                        for start in stride(from: 0, to: buffer.count, by: Self.holeBlock) {
                            let block = UnsafeRawBufferPointer(rebasing: buffer[start..<min(buffer.count, start + Self.holeBlock)])
                            if block.allSatisfy({ $0 == 0 }) {
                                // A hole: the file is cut to its length at the end, which leaves these zeros
                                // unallocated.
                                guard lseek(file, off_t(block.count), SEEK_CUR) >= 0 else { throw targetError("write", path) }
                                continue
                            }
                            report.written += UInt64(block.count)
                            guard report.written <= byteLimit else {
                                throw GuestFilesError(
                                    .target,
                                    "the copy stopped at \(path): it would write more than \(byteLimit) bytes, more than the point's disks hold; the guest's file system is damaged or hostile (nothing was kept)")
                            }
                            var done = 0
                            while done < block.count {
                                let count = Glibc.write(file, block.baseAddress! + done, block.count - done)
                                guard count > 0 else { throw targetError("write", path) }
                                done += count
                            }
                        }
                    }
                    report.bytes += UInt64(bytes.count)
                    progress(report.bytes)
                }
                guard ftruncate(file, off_t(length)) == 0 else { throw targetError("write", path) }
            } catch {
                failed = error
            }
            if failed == nil { finish(file, entry, path: path, report: &report) }
            close(file)
            if let failed { throw failed }
            report.files += 1
        case .directory:
            guard depth < 256, visited.insert(entry.inode).inserted else {
                report.warnings.append("skipped \(path): a folder that contains itself (the guest's file system is damaged)")
                return
            }
            guard mkdirat(folder, name, 0o700) == 0 else { throw targetError("create folder", path) }
            let child = openat(folder, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { throw targetError("open folder", path) }
            defer { close(child) }
            for item in try browser.list(path) {
                try write(
                    item, into: child, at: "\(path)/\(item.name)", report: &report, visited: &visited, depth: depth + 1)
            }
            finish(child, entry, path: path, report: &report)
            report.folders += 1
        case .symlink:
            guard let target = entry.target, symlinkat(target, folder, name) == 0 else { throw targetError("create link", path) }
            var times = [timespec(entry.accessed), timespec(entry.modified)]
            _ = utimensat(folder, name, &times, AT_SYMLINK_NOFOLLOW)
            report.links += 1
        case .device, .fifo, .socket:
            report.warnings.append("skipped \(path): a \(entry.kind), which is not copied out")
        case .filesystem:
            report.warnings.append("skipped \(path): a whole file system")
        }
    }

    /// Permission bits and times, once the content is written.
    private func finish(_ descriptor: Int32, _ entry: GuestEntry, path: String, report: inout Report) {
        if fchmod(descriptor, mode_t(entry.mode & 0o1777)) != 0 {
            report.warnings.append("cannot set the permissions of \(path): \(String(cString: strerror(errno)))")
        }
        var times = [timespec(entry.accessed), timespec(entry.modified)]
        if futimens(descriptor, &times) != 0 {
            report.warnings.append("cannot set the times of \(path): \(String(cString: strerror(errno)))")
        }
    }

    private func targetError(_ what: String, _ path: String) -> GuestFilesError {
        let reason = String(cString: strerror(errno))
        return GuestFilesError(
            .target,
            "cannot \(what) for \(path) in the target folder: \(reason)"
                + (errno == EEXIST ? " (something of that name is there already; extract into an empty folder)" : "")
                + (errno == ENOSPC ? " (the target's disk is full)" : ""))
    }
}

extension timespec {
    init(_ date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        self.init(tv_sec: Int(seconds), tv_nsec: Int((date.timeIntervalSince1970 - seconds) * 1e9))
    }
}
