#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A read-only NBD server on a unix socket (fixed newstyle handshake, structured replies, `base:allocation`), for
/// clients such as `qemu-img`, `nbdcopy`, `nbdinfo` and libguestfs.
///
/// Each connection is served on a thread of its own with blocking I/O: the sources read files, which would block
/// an event loop as much as the socket. ``stop()`` closes the socket and every connection.
public final class NBDServer: Sendable {
    /// Where clients connect.
    public let socketPath: String
    private let listener: Int32
    private let exports: NBDExports
    private let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    private struct State {
        var stopped = false
        var connections: [Int: NBDSocketStream] = [:]
        var next = 0
        var served = 0
    }

    /// Binds `socketPath` (mode 0600; an old socket file there is replaced) and starts accepting connections.
    public init(
        socketPath: String, exports: NBDExports, log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(NBDServerError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(socketPath.utf8)
        guard pathBytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw NBDServerError(
                "the socket path \(socketPath) is longer than the \(MemoryLayout.size(ofValue: address.sun_path) - 1) bytes a unix socket allows; use a shorter data directory")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw NBDServerError("cannot make a unix socket: \(String(cString: strerror(errno)))") }
        unlink(socketPath)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, chmod(socketPath, 0o600) == 0, listen(descriptor, 16) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw NBDServerError("cannot listen on \(socketPath): \(reason)")
        }
        self.socketPath = socketPath
        self.listener = descriptor
        self.exports = exports
        self.log = log
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "nbd-accept"
        thread.start()
    }

    /// How many connections are open now.
    public var openConnections: Int { state.withLock { $0.connections.count } }

    /// How many connections were accepted since start.
    public var connectionsServed: Int { state.withLock { $0.served } }

    /// Stops accepting, closes every connection and removes the socket file. Safe to call more than once.
    public func stop() {
        let open: [NBDSocketStream]? = state.withLock { state in
            guard !state.stopped else { return nil }
            state.stopped = true
            return Array(state.connections.values)
        }
        guard let open else { return }
        Glibc.shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        unlink(socketPath)
        for connection in open { connection.shutDown() }
    }

    deinit { stop() }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return  // the listener was closed by stop()
            }
            // Not inherited by the qemu-nbd and qemu-img children bulwarkd starts.
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let stream = NBDSocketStream(descriptor: client)
            let id: Int? = state.withLock { state in
                guard !state.stopped else { return nil }
                let id = state.next
                state.next += 1
                state.served += 1
                state.connections[id] = stream
                return id
            }
            guard let id else {
                stream.shutDown()
                return
            }
            let thread = Thread { [self, exports, log] in
                NBDSession(stream: stream, exports: exports, log: log).run()
                _ = state.withLock { $0.connections.removeValue(forKey: id) }
            }
            thread.name = "nbd-connection"
            thread.start()
        }
    }
}
