import GuestFiles
import NBD
import Synchronization

/// One disk of the point, read from the parent's read-only NBD export: the only way the helper sees the point.
final class NBDGuestDisk: GuestDisk {
    let target: String
    let size: UInt64
    /// libnbd's last error is per thread and a handle is not thread-safe: one read at a time.
    private let connection: Mutex<NBDConnection>

    init(socket: String, target: String) throws {
        let connection = try NBDConnection(.unix(path: socket, export: target))
        self.target = target
        size = connection.size
        self.connection = Mutex(connection)
    }

    func read(offset: UInt64, length: Int) throws -> [UInt8] {
        guard length > 0 else { return [] }
        return try connection.withLock { connection in try connection.read(offset: offset, length: length) }
    }
}
