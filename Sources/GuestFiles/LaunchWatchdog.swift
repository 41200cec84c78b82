import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Ends an appliance start that takes too long: libguestfs itself waits for a hung appliance (nested KVM that never
/// runs the guest) for many minutes. After `timeout` it SIGKILLs the QEMU whose command line holds `marker` (the
/// appliance's `-name`, unique to it), and any that appears later, until ``finish()``: that makes `guestfs_launch`
/// fail at once.
///
/// It looks for the process in `/proc` rather than asking libguestfs, whose handle is busy in `launch` on another
/// thread and is not thread-safe.
final class LaunchWatchdog: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var finished = false
    private var fired = false

    init(marker: String, timeout: Duration) {
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        let thread = Thread { [self] in
            condition.lock()
            defer { condition.unlock() }
            while !finished, Date() < deadline { _ = condition.wait(until: deadline) }
            // QEMU may not run yet when time is up (libguestfs first checks or builds its appliance): keep looking
            // until the start gives up.
            while !finished {
                fired = true
                for pid in Self.processes(holding: marker) { kill(pid, SIGKILL) }
                _ = condition.wait(until: Date().addingTimeInterval(0.2))
            }
        }
        thread.name = "guestfs-watchdog"
        thread.start()
    }

    /// Stops watching; true when the watchdog had already ended the start.
    func finish() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        finished = true
        condition.signal()
        return fired
    }

    /// This process's children whose command line contains `marker`: libguestfs forks the appliance's QEMU
    /// itself, and a process of anyone else that happens to carry the marker is never touched.
    static func processes(holding marker: String) -> [pid_t] {
        let wanted = Data(marker.utf8)
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), pid != me, parent(of: pid) == me,
                let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), command.range(of: wanted) != nil
            else { return nil }
            return pid
        }
    }

    /// The parent of `pid`, from `/proc/PID/stat`: the field after the command name, which is in parentheses and may
    /// itself hold spaces and parentheses, so the text is read from the last `)`.
    static func parent(of pid: pid_t) -> pid_t? {
        guard let stat = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: UInt8(ascii: " "))
        // " S 1234 …": state, then the parent.
        guard fields.count > 1 else { return nil }
        return pid_t(String(decoding: fields[1], as: UTF8.self))
    }
}
