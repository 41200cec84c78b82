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

    /// The processes whose command line contains `marker`.
    static func processes(holding marker: String) -> [pid_t] {
        let wanted = Data(marker.utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(),
                let command = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), command.range(of: wanted) != nil
            else { return nil }
            return pid
        }
    }
}
