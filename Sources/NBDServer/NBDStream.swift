#if canImport(Glibc)
import Glibc
#endif

/// A connected byte stream, blocking.
protocol NBDStream: AnyObject {
    /// Exactly `count` bytes; throws ``NBDStreamClosed`` when the peer closes first.
    func read(_ count: Int) throws -> [UInt8]
    func write(_ bytes: [UInt8]) throws
}

/// The peer closed the connection.
struct NBDStreamClosed: Error {}

/// A connected socket; closed when released.
final class NBDSocketStream: NBDStream, Sendable {
    let descriptor: Int32

    init(descriptor: Int32) { self.descriptor = descriptor }

    deinit { close(descriptor) }

    func read(_ count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            var done = 0
            while done < count {
                let received = recv(descriptor, buffer.baseAddress! + done, count - done, 0)
                if received > 0 {
                    done += received
                } else if received == 0 {
                    throw NBDStreamClosed()
                } else if errno != EINTR {
                    throw NBDStreamClosed()
                }
            }
            initialized = count
        }
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let sent = send(descriptor, buffer.baseAddress! + done, buffer.count - done, Int32(MSG_NOSIGNAL))
                if sent >= 0 {
                    done += sent
                } else if errno != EINTR {
                    throw NBDStreamClosed()
                }
            }
        }
    }

    /// Ends both directions, waking a thread blocked on it.
    func shutDown() { _ = Glibc.shutdown(descriptor, Int32(SHUT_RDWR)) }
}
