import BulwarkAPI
public import ChunkFormat
import Foundation
public import Logging
import NIOCore

/// Sends chunks the datastore lacks, once each: asks the server which digests it is missing and uploads only those.
///
/// Digests the base point already names, and those this task sent or found present, are known to be in the datastore
/// and cost no round trip.
public actor ChunkUploader {
    private let server: ServerConnection
    private let taskID: String
    private var known: Set<ChunkDigest>
    private var inFlight: [ChunkDigest: Task<Int, any Error>] = [:]
    /// Chunks uploaded and their encoded bytes.
    public private(set) var uploadedChunks = 0
    public private(set) var uploadedBytes: Int64 = 0

    private let logger: Logger

    public init(server: ServerConnection, taskID: String, known: Set<ChunkDigest>, logger: Logger) {
        self.logger = logger
        self.server = server
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
        let task = Task { [server, taskID, logger] () throws -> Int in
            let digest = name.description
            let answer = try await Retry.transient("query chunk \(digest)", logger: logger) { () async throws(AgentError) in
                try await server.json(
                    .POST, "/v1/agent/tasks/\(taskID)/chunks/query", body: ChunkQuery(digests: [digest]),
                    as: ChunkQueryResult.self)
            }
            guard answer?.missing.contains(digest) == true else { return 0 }
            let file = encode()
            var body = ByteBufferAllocator().buffer(capacity: file.header.count + file.payload.count)
            body.writeBytes(file.header)
            body.writeBytes(file.payload)
            _ = try await Retry.transient("upload chunk \(digest)", logger: logger) { [body] () async throws(AgentError) in
                try await server.send(.PUT, "/v1/agent/tasks/\(taskID)/chunks/\(digest)", buffer: body)
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
}
