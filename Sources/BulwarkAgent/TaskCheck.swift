public import BulwarkAPI
import BulwarkCore
import Foundation

/// What the agent checks in a task before it uses any of it: the server is trusted to pick the work, not to name
/// files on this host. Task ids, disk targets, point ids, names and folders end up in paths (the scratch folder,
/// the files of a restored VM), so each is checked against its shape, and a restore writes only under the folders
/// `bulwark-agent run --restore-root` allows (anywhere when none is given).
public enum TaskCheck {
    /// Throws `invalid`, naming the field, when the task is not one this agent will run.
    public static func validate(_ task: AgentTask, restoreRoots: [String]) throws(AgentError) {
        guard (try? JobID(parsing: task.id)) != nil else {
            throw AgentError(.invalid, "the server sent a task id '\(printable(task.id))' that is not a job id; the task is not run")
        }
        guard isVMName(task.vmName) else {
            throw AgentError(.invalid, "task \(task.id) names VM '\(printable(task.vmName))', which is not a libvirt VM name")
        }
        guard task.chunkSize > 0, task.chunkSize.nonzeroBitCount == 1, (64 << 10...16 << 20).contains(task.chunkSize) else {
            throw AgentError(.invalid, "task \(task.id) has chunk size \(task.chunkSize): not a power of two from 64 KiB to 16 MiB")
        }
        if let base = task.base {
            guard (try? RecoveryPointID(parsing: base.pointID)) != nil else {
                throw AgentError(.invalid, "task \(task.id) names base point '\(printable(base.pointID))', which is not a point id")
            }
            for disk in base.disks where !isDiskTarget(disk.target) {
                throw AgentError(.invalid, "task \(task.id) names base disk '\(printable(disk.target))', which is not a disk target")
            }
        }
        guard let restore = task.restore else { return }
        guard (try? RecoveryPointID(parsing: restore.pointID)) != nil else {
            throw AgentError(.invalid, "restore task \(task.id) names point '\(printable(restore.pointID))', which is not a point id")
        }
        for disk in restore.disks where !isDiskTarget(disk.target) {
            throw AgentError(.invalid, "restore task \(task.id) names disk '\(printable(disk.target))', which is not a disk target")
        }
        if let name = restore.name, !isVMName(name) {
            throw AgentError(.invalid, "restore task \(task.id) names the new VM '\(printable(name))', which is not a libvirt VM name")
        }
        guard let folder = restore.folder else { return }
        guard isPlainAbsolutePath(folder) else {
            throw AgentError(
                .invalid,
                "restore task \(task.id) writes to '\(printable(folder))', which is not a plain absolute path (no '.', '..' or empty parts)")
        }
        guard restoreRoots.isEmpty || restoreRoots.contains(where: { isInside(folder, root: $0) }) else {
            throw AgentError(
                .invalid,
                "restore task \(task.id) writes to \(folder), outside the folders this agent restores into (\(restoreRoots.joined(separator: ", "))); choose a --path under one of them, or add a --restore-root to the agent on this host")
        }
        // A symbolic link anywhere in the folder would let the write land elsewhere than the check above saw.
        if let resolved = realpath(folder, nil) {
            defer { free(resolved) }
            let real = String(cString: resolved)
            guard real == folder else {
                throw AgentError(
                    .invalid,
                    "restore task \(task.id) writes to \(folder), which passes through a symbolic link (it is \(real)); give the real path")
            }
        }
    }

    /// Checks the `--restore-root` folders an admin gave the agent: absolute, plain, existing, no links.
    public static func validateRestoreRoots(_ roots: [String]) throws(AgentError) {
        for root in roots {
            guard isPlainAbsolutePath(root) else {
                throw AgentError(.invalid, "--restore-root '\(root)' is not a plain absolute path; give one such as /var/lib/libvirt/images")
            }
            guard let resolved = realpath(root, nil) else {
                throw AgentError(.invalid, "--restore-root \(root) does not exist on this host; create it first")
            }
            defer { free(resolved) }
            guard String(cString: resolved) == root else {
                throw AgentError(.invalid, "--restore-root \(root) passes through a symbolic link; give the real path \(String(cString: resolved))")
            }
        }
    }

    static func isVMName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && name != "." && name != ".." && !name.contains("/")
            && !name.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    static func isDiskTarget(_ target: String) -> Bool {
        (1...64).contains(target.utf8.count)
            && target.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7a) || $0 == 0x2d || $0 == 0x5f }
    }

    /// `/a/b/c`: absolute, no empty, `.` or `..` parts, no control characters, not longer than Linux allows.
    static func isPlainAbsolutePath(_ path: String) -> Bool {
        guard path.hasPrefix("/"), path.utf8.count < 4096 else { return false }
        if path == "/" { return true }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        return parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
            && !path.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    static func isInside(_ path: String, root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root + "/")
    }

    /// `text` cut to 200 characters, control characters escaped: for messages about values that failed a check.
    static func printable(_ text: String) -> String {
        TerminalText.escaped(String(String.UnicodeScalarView(text.unicodeScalars.prefix(200))))
    }
}
