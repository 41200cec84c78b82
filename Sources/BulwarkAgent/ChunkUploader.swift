import BulwarkAPI
public import ChunkFormat
import Foundation
public import Logging
public import NIOCore

/// How a ``ChunkUploader`` reaches the server's chunk routes; ``ServerConnection`` in a sync, a stand-in in tests.
public protocol ChunkTransport: Sendable {
    /// The digests among `digests` the datastore lacks for this task (one chunk query).
    func missing(_ digests: [String], task: String) async throws(AgentError) -> Set<String>
    /// Stores one chunk file under `digest`.
    func upload(_ file: ByteBuffer, digest: String, task: String) async throws(AgentError)
}

extension ServerConnection: ChunkTransport {
    public func missing(_ digests: [String], task: String) async throws(AgentError) -> Set<String> {
        let answer = try await json(
            .POST, "/v1/agent/tasks/\(task)/chunks/query", body: ChunkQuery(digests: digests), as: ChunkQueryResult.self)
        return Set(answer?.missing ?? [])
    }

    public func upload(_ file: ByteBuffer, digest: String, task: String) async throws(AgentError) {
        _ = try await send(.PUT, "/v1/agent/tasks/\(task)/chunks/\(digest)", buffer: file)
    }
}

/// Sends chunks the datastore lacks, once each: asks the server which digests it is missing and uploads only those.
///
/// Digests the base point already names, and those this task sent or found present, are known to be in the datastore
/// and cost no round trip. The others are asked about in batches: while one chunk query is on its way, the digests
/// the sync's other lanes want to know about wait and go together in the next one, so a new chunk costs its upload
/// and a share of one query rather than a query of its own.
public actor ChunkUploader {
    /// The most digests one query carries (the server's limit).
    static let maximumQuery = 4096

    private let transport: any ChunkTransport
    private let taskID: String
    private var known: Set<ChunkDigest>
    private var inFlight: [ChunkDigest: Task<Int, any Error>] = [:]
    /// Digests waiting for the next query, with whoever waits for each answer.
    private var waiting: [ChunkDigest: [CheckedContinuation<Bool, any Error>]] = [:]
    private var querying = false
    /// Chunks uploaded and their encoded bytes.
    public private(set) var uploadedChunks = 0
    public private(set) var uploadedBytes: Int64 = 0
    /// Chunk queries sent, and the digests they asked about.
    public private(set) var queries = 0
    public private(set) var queriedDigests = 0

    private let logger: Logger

    public init(server: any ChunkTransport, taskID: String, known: Set<ChunkDigest>, logger: Logger) {
        self.logger = logger
        transport = server
        self.taskID = taskID
        self.known = known
    }

    /// Makes sure the datastore has the chunk named `digest`, encoding it with `encode` only when it must be sent;
    /// returns the bytes sent (0 when the datastore had it).
    public func ensure(
        _ name: ChunkDigest, encode: @escaping @Sendable () -> (header: [UInt8], payload: [UInt8])
    ) async throws -> Int {
        if known.contains(name) { return 0 }
        if let running = inFlight[name] {
            _ = try await running.value
            return 0
        }
        let task = Task { [self, transport, taskID, logger] () throws -> Int in
            guard try await isMissing(name) else { return 0 }
            let digest = name.description
            let file = encode()
            var body = ByteBufferAllocator().buffer(capacity: file.header.count + file.payload.count)
            body.writeBytes(file.header)
            body.writeBytes(file.payload)
            _ = try await Retry.transient("upload chunk \(digest)", logger: logger) { [body] () async throws(AgentError) in
                try await transport.upload(body, digest: digest, task: taskID)
            }
            return body.readableBytes
        }
        inFlight[name] = task
        defer { inFlight[name] = nil }
        let sent = try await task.value
        known.insert(name)
        if sent > 0 {
            uploadedChunks += 1
            uploadedBytes += Int64(sent)
        }
        return sent
    }

    /// Whether the datastore lacks `digest`, answered by the next batched query.
    private func isMissing(_ digest: ChunkDigest) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            waiting[digest, default: []].append(continuation)
            guard !querying else { return }
            querying = true
            Task { await sendQueries() }
        }
    }

    /// Sends queries until no digest waits: each carries every digest that arrived while the previous one was out.
    private func sendQueries() async {
        while !waiting.isEmpty {
            let batch = Array(waiting.prefix(Self.maximumQuery))
            for (digest, _) in batch { waiting[digest] = nil }
            let names = batch.map(\.key.description)
            queries += 1
            queriedDigests += names.count
            let result: Result<Set<String>, any Error>
            do {
                let (transport, taskID) = (transport, taskID)
                result = .success(
                    try await Retry.transient("query \(names.count) chunks", logger: logger) { () async throws(AgentError) in
                        try await transport.missing(names, task: taskID)
                    })
            } catch {
                result = .failure(error)
            }
            for (digest, continuations) in batch {
                let answer = result.map { $0.contains(digest.description) }
                for continuation in continuations { continuation.resume(with: answer) }
            }
        }
        querying = false
    }
}
