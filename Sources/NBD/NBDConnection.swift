internal import CNBD
import Foundation

/// Where an NBD export is: a libnbd URI, a unix socket or a TCP address, with an export name.
public enum NBDEndpoint: Sendable, Hashable, CustomStringConvertible {
    /// A URI as libnbd reads it: `nbd+unix:///vda?socket=/run/x.sock`, `nbd://host:10809/export`.
    case uri(String)
    case unix(path: String, export: String)
    case tcp(host: String, port: Int, export: String)
    /// A server libnbd starts itself and talks to over a socket it passes on (systemd socket activation), such as
    /// `["qemu-nbd", "--read-only", "--format=qcow2", "/images/vda.qcow2"]`; it ends with the connection.
    case command([String])

    public var description: String {
        switch self {
        case .uri(let uri): uri
        case .unix(let path, let export): "export '\(export)' on unix socket \(path)"
        case .tcp(let host, let port, let export): "export '\(export)' on \(host):\(port)"
        case .command(let arguments): "`\(arguments.joined(separator: " "))`"
        }
    }
}

/// One connection to an NBD export (`struct nbd_handle`), closed when the object goes away.
///
/// Calls block. Not `Sendable`: libnbd's last error is per thread, so a connection is used from one thread at a
/// time. ``NBDExport`` owns several of them, each on a thread of its own, for parallel reads.
public final class NBDConnection {
    private let handle: OpaquePointer
    public let endpoint: NBDEndpoint
    /// The meta contexts the server agreed to, in the order they were asked for.
    public private(set) var metaContexts: [String] = []
    /// The export's size in bytes.
    public private(set) var size: UInt64 = 0

    /// The longest range one block-status or read request covers; NBD lengths are 32-bit.
    static let maxRequest: UInt64 = 32 << 20

    /// Connects and negotiates. Meta contexts the server does not offer are an error, since a caller that asks for
    /// a dirty bitmap must never silently get none.
    public init(_ endpoint: NBDEndpoint, metaContexts requested: [String] = []) throws(NBDError) {
        guard let handle = nbd_create() else { throw NBDError.last("nbd_create", subject: endpoint.description) }
        self.handle = handle
        self.endpoint = endpoint
        let subject = endpoint.description
        // libnbd zeroes every read buffer first unless told not to; a failed read throws and its buffer is never
        // used, so that memset is pure cost on the hot path.
        guard nbd_set_pread_initialize(handle, false) == 0 else {
            throw NBDError.last("nbd_set_pread_initialize", subject: subject)
        }
        for context in requested where nbd_add_meta_context(handle, context) != 0 {
            throw NBDError.last("nbd_add_meta_context", subject: subject)
        }
        let connected: Int32
        switch endpoint {
        case .uri(let uri):
            connected = nbd_connect_uri(handle, uri)
        case .unix(let path, let export):
            guard nbd_set_export_name(handle, export) == 0 else {
                throw NBDError.last("nbd_set_export_name", subject: subject)
            }
            connected = nbd_connect_unix(handle, path)
        case .tcp(let host, let port, let export):
            guard nbd_set_export_name(handle, export) == 0 else {
                throw NBDError.last("nbd_set_export_name", subject: subject)
            }
            connected = nbd_connect_tcp(handle, host, String(port))
        case .command(let arguments):
            var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            defer { for pointer in argv { free(pointer) } }
            connected = nbd_connect_systemd_socket_activation(handle, &argv)
        }
        guard connected == 0 else { throw NBDError.last("nbd_connect", subject: subject) }
        let size = nbd_get_size(handle)
        guard size >= 0 else { throw NBDError.last("nbd_get_size", subject: subject) }
        self.size = UInt64(size)
        for context in requested {
            switch nbd_can_meta_context(handle, context) {
            case 1: metaContexts.append(context)
            case 0:
                throw NBDError(
                    code: .notSupported,
                    message: "the server does not offer meta context '\(context)'; for a dirty bitmap, check that the "
                        + "backup job is incremental and the bitmap name is right",
                    operation: "nbd_can_meta_context", subject: subject)
            default: throw NBDError.last("nbd_can_meta_context", subject: subject)
            }
        }
    }

    deinit {
        // A clean NBD_CMD_DISC when the server is still there; nbd_close frees the handle either way.
        _ = nbd_shutdown(handle, 0)
        nbd_close(handle)
    }

    /// The size of the requests a read is cut into, all sent at once: servers answer several requests of one
    /// connection in parallel (QEMU up to 16), and a small request spares QEMU a fresh multi-megabyte bounce buffer.
    static let segment = 256 << 10

    /// Reads `buffer.count` bytes at `offset` into the caller's buffer.
    ///
    /// The range goes out as concurrent requests of ``segment`` bytes (libnbd's asynchronous API), and the call
    /// returns when all have completed; one failing fails the read. `segmentRead`, when given, is called on this
    /// thread with each request's range in the buffer as soon as its bytes have arrived, while they are still in
    /// the CPU's cache; requests complete in any order.
    public func pread(
        into buffer: UnsafeMutableRawBufferPointer, offset: UInt64, segmentRead: ((Range<Int>) -> Void)? = nil
    ) throws(NBDError) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        let completed = segmentRead.map { done in { (_: Int, at: Int, count: Int) in done(at..<at + count) } }
        try segmented([(buffer.count, offset)], operation: "pread", completed: completed) { _, at, count, diskOffset in
            nbd_aio_pread(
                handle, base + at, count, diskOffset, nbd_completion_callback(callback: nil, user_data: nil, free: nil), 0)
        }
    }

    /// Issues each range (its length and its offset on the disk) as concurrent requests of ``segment`` bytes
    /// (`issue` sends one: the range's index, the request's offset within the range, its length, its offset on the
    /// disk; it answers libnbd's cookie), then waits for all. With `completed`, each request that succeeded is
    /// reported (range index, offset within the range, length) as soon as it is retired. Every issued request is
    /// waited for and retired, even after a failure: the buffers are the caller's and must not be touched once this
    /// returns.
    private func segmented(
        _ ranges: [(length: Int, offset: UInt64)], operation: String,
        completed: ((Int, Int, Int) -> Void)? = nil, _ issue: (Int, Int, Int, UInt64) -> Int64
    ) throws(NBDError) {
        var requests: [Int64: (index: Int, at: Int, count: Int, offset: UInt64)] = [:]
        var failure: NBDError?
        // A request that cannot be issued because the connection died under an earlier one ("invalid state: DEAD")
        // is an effect; the earlier request's failure, found when it is retired, is the cause and is reported first.
        var issueFailure: NBDError?
        issuing: for (index, range) in ranges.enumerated() {
            var issued = 0
            while issued < range.length {
                let count = min(range.length - issued, Self.segment)
                let at = range.offset + UInt64(issued)
                let cookie = issue(index, issued, count, at)
                guard cookie >= 0 else {
                    issueFailure = NBDError.last("nbd_aio_\(operation)", subject: "\(endpoint) at offset \(at)")
                    break issuing
                }
                requests[cookie] = (index, issued, count, at)
                issued += count
            }
        }
        func retire(_ cookie: Int64) {
            guard let request = requests.removeValue(forKey: cookie) else { return }
            if nbd_aio_command_completed(handle, UInt64(cookie)) == 1 {
                if failure == nil, issueFailure == nil { completed?(request.index, request.at, request.count) }
            } else {
                failure = failure ?? NBDError.last("nbd_\(operation)", subject: "\(endpoint) at offset \(request.offset)")
            }
        }
        while nbd_aio_in_flight(handle) > 0 {
            guard nbd_poll(handle, -1) >= 0 else {
                throw NBDError.last("nbd_poll", subject: "\(endpoint) at offset \(ranges.first?.offset ?? 0)")
            }
            // Retiring as replies land lets the caller work on each while it is still in the cache.
            while completed != nil, case let cookie = nbd_aio_peek_command_completed(handle), cookie > 0 {
                retire(cookie)
            }
        }
        for cookie in requests.keys.sorted() { retire(cookie) }
        if let failure = failure ?? issueFailure { throw failure }
    }

    /// Reads `length` bytes at `offset`.
    public func read(
        offset: UInt64, length: Int, segmentRead: ((UnsafeRawBufferPointer, Int) -> Void)? = nil
    ) throws(NBDError) -> [UInt8] {
        var failure: NBDError?
        let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
            do throws(NBDError) {
                let whole = UnsafeMutableRawBufferPointer(buffer)
                try pread(
                    into: whole, offset: offset,
                    segmentRead: segmentRead.map { done in
                        { range in done(UnsafeRawBufferPointer(rebasing: whole[range]), range.lowerBound) }
                    })
                count = length
            } catch {
                failure = error
                count = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }

    /// Writes each buffer at its offset, all of them as concurrent requests of ``segment`` bytes; returns when every
    /// request has completed, and one failing fails the whole call. The buffers must stay valid until it returns.
    ///
    /// Several writes in one call keep the server busy across their boundaries: waiting for each write before
    /// issuing the next left a server writing with direct I/O idle for the device's latency every time.
    public func pwrite(_ writes: [(buffer: UnsafeRawBufferPointer, offset: UInt64)]) throws(NBDError) {
        let writes = writes.filter { $0.buffer.baseAddress != nil && !$0.buffer.isEmpty }
        try segmented(writes.map { ($0.buffer.count, $0.offset) }, operation: "pwrite") { index, at, count, diskOffset in
            nbd_aio_pwrite(
                handle, writes[index].buffer.baseAddress! + at, count, diskOffset,
                nbd_completion_callback(callback: nil, user_data: nil, free: nil), 0)
        }
    }

    /// Asks the server to make every completed write durable.
    public func flush() throws(NBDError) {
        guard nbd_flush(handle, 0) == 0 else { throw NBDError.last("nbd_flush", subject: endpoint.description) }
    }

    /// Whether the server accepts writes.
    public var isReadOnly: Bool { nbd_is_read_only(handle) != 0 }

    /// The extents of every negotiated meta context over `range`, each list covering the whole range exactly,
    /// with neighbouring extents of equal flags merged.
    ///
    /// Servers may answer a block-status request for less than was asked, and for different lengths per context;
    /// the loop keeps a cursor per context and asks again from the lowest one.
    public func blockStatus(_ range: Range<UInt64>) throws(NBDError) -> [String: [Extent]] {
        guard range.upperBound <= size else {
            throw NBDError(
                code: .invalidArgument,
                message: "range \(range) reaches past the end of the export (\(size) bytes)",
                operation: "nbd_block_status", subject: endpoint.description)
        }
        guard !metaContexts.isEmpty else {
            throw NBDError(
                code: .invalidArgument, message: "no meta context was negotiated; ask for one when connecting",
                operation: "nbd_block_status", subject: endpoint.description)
        }
        let collector = ExtentCollector(contexts: metaContexts, range: range)
        var offset = range.lowerBound
        while offset < range.upperBound {
            let count = min(range.upperBound - offset, Self.maxRequest)
            let callback = nbd_extent_callback(
                callback: extentCallback, user_data: Unmanaged.passUnretained(collector).toOpaque(), free: nil)
            let result = withExtendedLifetime(collector) { nbd_block_status(handle, count, offset, callback, 0) }
            guard result == 0 else {
                throw NBDError.last("nbd_block_status", subject: "\(endpoint) at offset \(offset)")
            }
            let next = collector.lowestCursor
            guard next > offset else {
                throw NBDError(
                    code: .protocolError, message: "the server's block status made no progress at offset \(offset)",
                    operation: "nbd_block_status", subject: endpoint.description)
            }
            offset = next
        }
        return collector.extents
    }
}

/// Gathers the extents libnbd reports during one ``NBDConnection/blockStatus(_:)`` call.
private final class ExtentCollector {
    let range: Range<UInt64>
    var extents: [String: [Extent]]
    var cursors: [String: UInt64]

    init(contexts: [String], range: Range<UInt64>) {
        self.range = range
        self.extents = Dictionary(uniqueKeysWithValues: contexts.map { ($0, []) })
        self.cursors = Dictionary(uniqueKeysWithValues: contexts.map { ($0, range.lowerBound) })
    }

    var lowestCursor: UInt64 { cursors.values.min() ?? range.upperBound }

    func add(context: String, offset: UInt64, entries: UnsafeBufferPointer<UInt32>) {
        guard var cursor = cursors[context] else { return }
        var start = offset
        var list = extents[context] ?? []
        for pair in stride(from: 0, to: entries.count - 1, by: 2) {
            let length = UInt64(entries[pair])
            let flags = entries[pair + 1]
            let end = start + length
            defer { start = end }
            // Skip what an earlier answer for this context already covered, and clip to the asked range.
            let from = max(start, cursor)
            let to = min(end, range.upperBound)
            guard from < to else { continue }
            if let last = list.last, last.end == from, last.flags == flags {
                list[list.count - 1].length += to - from
            } else {
                list.append(Extent(offset: from, length: to - from, flags: flags))
            }
            cursor = to
        }
        extents[context] = list
        cursors[context] = cursor
    }
}

private let extentCallback:
    @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UInt64, UnsafeMutablePointer<UInt32>?, Int,
        UnsafeMutablePointer<Int32>?
    ) -> Int32 = { userData, context, offset, entries, count, _ in
        guard let userData, let context, let entries else { return 0 }
        let collector = Unmanaged<ExtentCollector>.fromOpaque(userData).takeUnretainedValue()
        collector.add(
            context: String(cString: context), offset: offset,
            entries: UnsafeBufferPointer(start: entries, count: count))
        return 0
    }
