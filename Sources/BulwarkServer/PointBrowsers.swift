import BulwarkCatalog
import BulwarkCore
import Foundation
import GuestFiles
import Synchronization

/// The guest-file readers of points being browsed, kept for a while between calls: a point whose file systems
/// need the libguestfs appliance starts it once, not on every listing, and an item-level copy right after a browse
/// reuses it. A kept reader holds its point from retention; it goes ``idle`` after its last use.
///
/// bulwarkd parses no guest data itself: each reader is a sandboxed `bulwark-guest-reader` (``GuestReader``). One
/// that crashed or hung fails the call it was answering and is replaced at the next.
final class PointBrowsers: Sendable {
    static let idle: Duration = .seconds(120)

    /// One point's reader. `browser` is used under `lock` only (a reader answers one request at a time); `users`
    /// and `lastUsed` change under the table's mutex only.
    private final class Entry: @unchecked Sendable {
        let lock = NSLock()
        var browser: GuestReader?
        /// The catalog lease that keeps the point from retention while the reader lives.
        var lease: String?
        var users = 0
        var lastUsed = ContinuousClock.now
    }

    private let exports: PointExports
    /// How readers are started, or why they cannot be.
    private let sandbox: Result<GuestReaderSandbox, GuestFilesError>
    private let entries = Mutex<[RecoveryPointID: Entry]>([:])

    init(exports: PointExports, sandbox: Result<GuestReaderSandbox, GuestFilesError>) {
        self.exports = exports
        self.sandbox = sandbox
    }

    /// Runs `body` with the reader of `point` on a thread of its own, starting the reader on first use (or when
    /// the last one ended).
    func use<T: Sendable>(
        _ point: RecoveryPointInfo, disks: [RecoveryPointDisk], _ body: @escaping @Sendable (any GuestTree) throws -> T
    ) async throws -> T {
        let (entry, isNew) = entries.withLock { entries in
            let existing = entries[point.id]
            let entry = existing ?? Entry()
            entry.users += 1
            entries[point.id] = entry
            return (entry, existing == nil)
        }
        if isNew {
            do {
                let lease = try await exports.hold(point.id, holder: "browse")
                entries.withLock { _ in entry.lease = lease }
            } catch {
                entries.withLock { entries in
                    entry.users -= 1
                    if entries[point.id] === entry, entry.users == 0 { entries[point.id] = nil }
                }
                throw error
            }
        }
        defer {
            entries.withLock { _ in
                entry.users -= 1
                entry.lastUsed = .now
            }
            Task { [self] in
                try? await Task.sleep(for: Self.idle + .seconds(1))
                await expire(point.id)
            }
        }
        let sandbox = try self.sandbox.get()
        let label = "point \(point.id) of VM \(point.vmName)"
        return try await exports.datastores.readingGuest {
            entry.lock.lock()
            defer { entry.lock.unlock() }
            if let browser = entry.browser, !browser.isRunning {
                browser.close()
                entry.browser = nil
            }
            if entry.browser == nil { entry.browser = try GuestReader(disks: disks, label: label, sandbox: sandbox) }
            return try body(entry.browser!)
        }
    }

    /// Drops the reader of `point` if nobody used it for ``idle``, stopping it (and its appliance).
    private func expire(_ point: RecoveryPointID) async {
        let removed: Entry? = entries.withLock { entries in
            guard let entry = entries[point], entry.users == 0, ContinuousClock.now - entry.lastUsed >= Self.idle else {
                return nil
            }
            entries[point] = nil
            return entry
        }
        guard let removed else { return }
        // Closing an appliance waits for its QEMU to stop: not on the cooperative pool.
        _ = try? await exports.datastores.readingGuest {
            removed.lock.withLock {
                removed.browser?.close()
                removed.browser = nil
            }
        }
        if let lease = entries.withLock({ _ in removed.lease }) { await exports.release(lease) }
    }
}
