import BulwarkAPI
import BulwarkCore
import ChunkFormat
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// What a new VM's restore checks on the host before any data moves, and how its disk files are made.
enum RestorePreflight {
    /// The folder exists, is a writable folder, has room for `needed` bytes (and 1% more for the images' own
    /// metadata), and none of `files` exists or is longer than the file system allows.
    static func checkFolder(_ folder: String, files: [String], host: String, needed: UInt64) async throws {
        try await runOffCooperativePool { () throws(AgentError) in
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
                throw AgentError(.invalid, "\(folder) is not a folder on \(host); create it first or choose another --path")
            }
            guard access(folder, W_OK) == 0 else {
                throw AgentError(.invalid, "\(folder) on \(host) is not writable: \(String(cString: strerror(errno))); choose another --path")
            }
            let nameMaximum = max(14, pathconf(folder, Int32(_PC_NAME_MAX)))
            let pathMaximum = max(256, pathconf(folder, Int32(_PC_PATH_MAX)))
            for file in files {
                let name = file.split(separator: "/").last.map(String.init) ?? file
                guard name.utf8.count <= nameMaximum, file.utf8.count < pathMaximum else {
                    throw AgentError(
                        .invalid,
                        "\(file) is longer than the file system on \(host) allows (\(nameMaximum) bytes a name, \(pathMaximum) a path); choose a shorter --name or --path")
                }
                guard !FileManager.default.fileExists(atPath: file) else {
                    throw AgentError(.invalid, "\(file) exists on \(host) already; choose another --name or --path, or remove it")
                }
            }
            var info = statvfs()
            guard statvfs(folder, &info) == 0 else {
                throw AgentError(.local, "cannot read the free space of \(folder) on \(host): \(String(cString: strerror(errno)))")
            }
            let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
            let wanted = needed + needed / 100
            guard free >= wanted else {
                throw AgentError(
                    .invalid,
                    "\(folder) on \(host) has \(ByteCount.approximate(Int64(clamping: free))) free, and the disks need \(ByteCount.approximate(Int64(clamping: wanted))); free space or choose another --path")
            }
        }
    }

    /// The restore's folder, opened without following any link in its path (see ``PinnedFile``).
    static func pinFolder(_ folder: String, host: String) async throws -> PinnedFile {
        try await runOffCooperativePool { () throws(AgentError) in
            do throws(PinnedFileError) {
                return try PinnedFile.folder(folder)
            } catch {
                throw AgentError(.invalid, "cannot open \(folder) on \(host) to restore into: \(error.message)")
            }
        }
    }

    /// Makes a new VM's disk file in `folder` (never over an existing file, never through a link) and the empty
    /// image in it, a qcow2 (nothing allocated) or a sparse raw file, returning it open for the transfer.
    static func create(_ target: RestoreRunner.Target, in folder: PinnedFile) async throws -> PinnedFile {
        let name = target.path.split(separator: "/").last.map(String.init) ?? target.path
        let file = try await runOffCooperativePool { () throws(AgentError) -> PinnedFile in
            let file: PinnedFile
            do throws(PinnedFileError) {
                file = try folder.create(name)
            } catch {
                throw AgentError(.local, "cannot make \(target.path): \(error.message)")
            }
            guard target.format == "qcow2" || ftruncate(file.descriptor, off_t(target.disk.logicalSize)) == 0 else {
                throw AgentError(.local, "cannot size \(target.path): \(String(cString: strerror(errno)))")
            }
            return file
        }
        if target.format == "qcow2" {
            try await SyncRunner.runQemuImg(["create", "-q", "-f", "qcow2", file.stablePath, "\(target.disk.logicalSize)"])
        }
        return file
    }

    /// Makes a missing disk of a VM restored in place anew, an empty qcow2 or sparse raw file of the disk's size
    /// (its path is the host's own definition's).
    static func create(_ target: RestoreRunner.Target) async throws {
        if target.format == "qcow2" {
            try await SyncRunner.runQemuImg(["create", "-q", "-f", "qcow2", target.path, "\(target.disk.logicalSize)"])
        } else {
            try await runOffCooperativePool { () throws(AgentError) in
                guard FileManager.default.createFile(atPath: target.path, contents: nil),
                    truncate(target.path, off_t(target.disk.logicalSize)) == 0
                else {
                    throw AgentError(.local, "cannot make \(target.path): \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}

extension RestorePreflight {
    /// Sets an existing disk file to the point's size: `qemu-img resize` for qcow2 (`--shrink` allows it to get
    /// smaller), `truncate` for raw. The VM is stopped; what lies beyond the point's size was not there at the point.
    static func resize(_ target: RestoreRunner.Target) async throws {
        let size = target.disk.logicalSize
        if target.format == "qcow2" {
            try await SyncRunner.runQemuImg(["resize", "-q", "--shrink", "-f", "qcow2", target.path, "\(size)"])
        } else {
            try await runOffCooperativePool { () throws(AgentError) in
                guard truncate(target.path, off_t(size)) == 0 else {
                    throw AgentError(
                        .local, "cannot resize \(target.path) to \(size) bytes: \(String(cString: strerror(errno)))")
                }
            }
        }
    }
}

/// The files of new VMs being restored, one record per task in the scratch folder, so that what a restore
/// that died left behind is removed when the agent starts again.
struct PartialRestores {
    struct Record: Codable {
        var files: [String]
        /// The new domain's UUID: once it is defined, the files are its disks and are kept.
        var domainUUID: String
    }

    let folder: String

    init(scratchDirectory scratch: String) { folder = "\(scratch)/restores" }

    func record(task: String, files: [String], domainUUID: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try JSONEncoder().encode(Record(files: files, domainUUID: domainUUID))
                .write(to: URL(fileURLWithPath: "\(folder)/\(task).json"), options: .atomic)
        } catch {
            throw AgentError(.local, "cannot record the restore in \(folder): \(error)", cause: error)
        }
    }

    func forget(task: String) throws {
        try? FileManager.default.removeItem(atPath: "\(folder)/\(task).json")
    }

    /// Removes the files the restore `task` made; it failed.
    func removeFiles(task: String, logger: Logger) {
        let path = "\(folder)/\(task).json"
        guard let data = FileManager.default.contents(atPath: path),
            let record = try? JSONDecoder().decode(Record.self, from: data)
        else { return }
        for file in record.files where FileManager.default.fileExists(atPath: file) {
            do {
                try FileManager.default.removeItem(atPath: file)
                logger.info("removed \(file), left by a restore that did not finish", metadata: ["job": "\(task)"])
            } catch {
                logger.warning("cannot remove \(file), left by a restore that did not finish: \(error)", metadata: ["job": "\(task)"])
            }
        }
        try? FileManager.default.removeItem(atPath: path)
    }

    /// At start: removes the files of every recorded restore whose domain was never defined.
    func cleanUp(defined: (String) -> Bool, logger: Logger) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasSuffix(".json") {
            let task = String(name.dropLast(5))
            let path = "\(folder)/\(name)"
            guard let data = FileManager.default.contents(atPath: path),
                let record = try? JSONDecoder().decode(Record.self, from: data)
            else {
                try? FileManager.default.removeItem(atPath: path)
                continue
            }
            if defined(record.domainUUID) {
                try? FileManager.default.removeItem(atPath: path)
            } else {
                removeFiles(task: task, logger: logger)
            }
        }
    }
}
