import Dispatch
import Foundation

/// An NBD export opened over several connections, for parallel reads from async code.
///
/// Each connection lives on a serial dispatch queue of its own ("lane"), so blocking libnbd calls never run on
/// Swift's cooperative pool and each handle is used from one thread at a time. A read waits for a free lane.
public final class NBDExport: @unchecked Sendable {
    public let endpoint: NBDEndpoint
    /// The export's size in bytes.
    public let size: UInt64
    /// The meta contexts the server agreed to.
    public let metaContexts: [String]
    private let lanes: [Lane]
    private let scheduler: LaneScheduler

    /// One connection and the queue it is used on; the connection is touched only on the queue.
    private final class Lane: @unchecked Sendable {
        let queue: DispatchQueue
        let connection: NBDConnection
        init(queue: DispatchQueue, connection: NBDConnection) {
            self.queue = queue
            self.connection = connection
        }
    }

    private init(endpoint: NBDEndpoint, lanes: [Lane]) {
        self.endpoint = endpoint
        self.lanes = lanes
        self.size = lanes[0].connection.size
        self.metaContexts = lanes[0].connection.metaContexts
        self.scheduler = LaneScheduler(count: lanes.count)
    }

    /// Opens `connections` connections to `endpoint` (at least one), each asking for `metaContexts`.
    public static func open(_ endpoint: NBDEndpoint, metaContexts: [String] = [], connections: Int = 2)
        async throws(NBDError) -> NBDExport
    {
        var lanes: [Lane] = []
        for index in 0..<max(1, connections) {
            let queue = DispatchQueue(label: "bulwark.nbd \(endpoint) #\(index)")
            let result: Result<Lane, NBDError> = await withCheckedContinuation { continuation in
                queue.async {
                    continuation.resume(
                        returning: Result { () throws(NBDError) in
                            Lane(queue: queue, connection: try NBDConnection(endpoint, metaContexts: metaContexts))
                        })
                }
            }
            lanes.append(try result.get())
        }
        return NBDExport(endpoint: endpoint, lanes: lanes)
    }

    /// Reads `length` bytes at `offset` on the next free connection.
    public func read(offset: UInt64, length: Int) async throws(NBDError) -> [UInt8] {
        try await onLane { connection throws(NBDError) in try connection.read(offset: offset, length: length) }
    }

    /// Reads `length` bytes at `offset` on the next free connection, calling `segmentRead` on that connection's
    /// thread with each request's bytes and their offset in the result as soon as they have arrived (in any order),
    /// while they are still in the CPU's cache.
    public func read(
        offset: UInt64, length: Int, segmentRead: @escaping @Sendable (UnsafeRawBufferPointer, Int) -> Void
    ) async throws(NBDError) -> [UInt8] {
        try await onLane { connection throws(NBDError) in
            try connection.read(offset: offset, length: length, segmentRead: segmentRead)
        }
    }

    /// Block status of every negotiated meta context over `range` (see ``NBDConnection/blockStatus(_:)``).
    public func blockStatus(_ range: Range<UInt64>) async throws(NBDError) -> [String: [Extent]] {
        try await onLane { connection throws(NBDError) in try connection.blockStatus(range) }
    }

    private func onLane<T: Sendable>(_ body: @escaping @Sendable (NBDConnection) throws(NBDError) -> T)
        async throws(NBDError) -> T
    {
        let index = await scheduler.acquire()
        let lane = lanes[index]
        let result: Result<T, NBDError> = await withCheckedContinuation { continuation in
            lane.queue.async {
                continuation.resume(returning: Result { () throws(NBDError) in try body(lane.connection) })
            }
        }
        await scheduler.release(index)
        return try result.get()
    }
}

/// Hands out free lane numbers, in order of asking.
private actor LaneScheduler {
    private var free: [Int]
    private var waiting: [CheckedContinuation<Int, Never>] = []

    init(count: Int) { free = Array((0..<count).reversed()) }

    func acquire() async -> Int {
        if let index = free.popLast() { return index }
        return await withCheckedContinuation { waiting.append($0) }
    }

    func release(_ index: Int) {
        if waiting.isEmpty {
            free.append(index)
        } else {
            waiting.removeFirst().resume(returning: index)
        }
    }
}
