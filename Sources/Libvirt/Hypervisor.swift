internal import CLibvirt
import Dispatch

/// The owner of one libvirt connection, giving async code safe access to it.
///
/// Every libvirt call blocks (it is an RPC to libvirtd), and libvirt's last error is per thread, so all work on the
/// connection runs on one serial dispatch queue of its own, never on Swift's cooperative pool. Handles made inside
/// ``run(_:)`` stay there; only `Sendable` values come out.
public final class Hypervisor: @unchecked Sendable {
    /// The URI the connection was opened with.
    public let uri: String
    private let queue: DispatchQueue
    /// Touched only on `queue`: that is what makes the unchecked `Sendable` sound.
    private let connection: UncheckedBox<Connection>

    private init(uri: String, queue: DispatchQueue, connection: UncheckedBox<Connection>) {
        self.uri = uri
        self.queue = queue
        self.connection = connection
    }

    /// Opens a connection to `uri` on a thread of its own.
    public static func open(uri: String) async throws(LibvirtError) -> Hypervisor {
        let queue = DispatchQueue(label: "bulwark.libvirt \(uri)")
        let result: Result<UncheckedBox<Connection>, LibvirtError> = await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Result { () throws(LibvirtError) in UncheckedBox(try Connection(uri: uri)) })
            }
        }
        return Hypervisor(uri: uri, queue: queue, connection: try result.get())
    }

    /// Runs `body` with the connection on the connection's own thread and returns its result.
    @discardableResult
    public func run<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [connection] in
                continuation.resume(with: Result { try body(connection.value) })
            }
        }
    }

    /// Whether the connection still reaches libvirtd.
    public func isAlive() async -> Bool {
        (try? await run { $0.isAlive() }) ?? false
    }

    /// A stream of lifecycle events (defined, started, stopped, ...) of every domain on this connection.
    ///
    /// Events arrive from libvirt's event loop thread; the registration ends when the stream's consumer stops.
    public func lifecycleEvents() async throws -> AsyncStream<DomainEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: DomainEvent.self, bufferingPolicy: .bufferingNewest(1024))
        let callbackID = try await run { connection throws(LibvirtError) in
            try connection.registerLifecycleEvents(continuation)
        }
        continuation.onTermination = { [self] _ in
            queue.async { [connection] in connection.value.deregisterEvents(callbackID) }
        }
        return stream
    }
}

/// Carries a non-Sendable value across one hand-off whose two sides never touch it at once.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
