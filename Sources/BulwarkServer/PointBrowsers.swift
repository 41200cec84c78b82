import BulwarkCatalog
import BulwarkCore
import Foundation
import GuestFiles
import Synchronization

/// The guest-file browsers of points being browsed, kept for a while between calls: a point whose file systems
/// need the libguestfs appliance starts it once, not on every listing, and an item-level copy right after a browse
/// reuses it. A kept browser holds its point from retention; it goes ``idle`` after its last use.
final class PointBrowsers: Sendable {
    static let idle: Duration = .seconds(120)

    /// One point's browser. `browser` is used under `lock` only (libext2fs and libguestfs handles are not
    /// thread-safe); `users` and `lastUsed` change under the table's mutex only.
    private final class Entry: @unchecked Sendable {
        let lock = NSLock()
        var browser: GuestBrowser?
        /// The catalog lease that keeps the point from retention while the browser lives.
        var lease: String?
        var users = 0
        var lastUsed = ContinuousClock.now
    }

    private let exports: PointExports
    /// Where appliances keep their sockets (in the data directory, cleared at each start).
    private let workFolder: String
    private let entries = Mutex<[RecoveryPointID: Entry]>([:])

    init(exports: PointExports, workFolder: String) {
        self.exports = exports
        self.workFolder = workFolder
    }

    /// Runs `body` with the browser of `point` on a thread of its own, making the browser on first use.
    func use<T: Sendable>(
        _ point: RecoveryPointInfo, disks: [RecoveryPointDisk], _ body: @escaping @Sendable (GuestBrowser) throws -> T
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
        let workFolder = self.workFolder
        return try await runBlocking {
            entry.lock.lock()
            defer { entry.lock.unlock() }
            if entry.browser == nil { entry.browser = try GuestBrowser(disks: disks, workFolder: workFolder) }
            return try body(entry.browser!)
        }
    }

    /// Drops the browser of `point` if nobody used it for ``idle``, stopping its appliance.
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
        _ = try? await runBlocking { removed.lock.withLock { removed.browser = nil } }
        if let lease = entries.withLock({ _ in removed.lease }) { await exports.release(lease) }
    }
}
