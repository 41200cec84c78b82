import BulwarkAgent
import ChunkFormat
import Foundation
import Logging
import NIOCore
import Synchronization
import Testing

/// Stands in for the server's chunk routes: answers queries from a set of stored digests, slowly enough for other
/// lanes to queue behind a query, and counts what it was sent.
final class RecordingTransport: ChunkTransport {
    struct State {
        var stored: Set<String> = []
        var queries: [[String]] = []
        var uploads: [String] = []
        var failQueries = 0
    }

    let state = Mutex(State())

    init(stored: Set<String> = []) { state.withLock { $0.stored = stored } }

    func missing(_ digests: [String], task: String) async throws(AgentError) -> Set<String> {
        let fail = state.withLock { state in
            state.queries.append(digests)
            guard state.failQueries > 0 else { return false }
            state.failQueries -= 1
            return true
        }
        try? await Task.sleep(for: .milliseconds(20))
        if fail { throw AgentError(.rejected, "the query was refused") }
        return state.withLock { state in Set(digests.filter { !state.stored.contains($0) }) }
    }

    func upload(_ file: ByteBuffer, digest: String, task: String) async throws(AgentError) {
        state.withLock { state in
            state.uploads.append(digest)
            state.stored.insert(digest)
        }
    }
}

@Suite struct ChunkUploaderTests {
    static func chunk(_ seed: Int) -> (digest: ChunkDigest, plain: [UInt8]) {
        let plain = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) }
        return (ChunkDigest.of(plain), plain)
    }

    /// 64 lanes at once: the digests that arrive while a query is out go together in the next, so there are far
    /// fewer queries than chunks; each missing chunk is uploaded once and a stored one never.
    @Test func queriesAreBatchedAndEachMissingChunkIsSentOnce() async throws {
        let chunks = (0..<64).map(Self.chunk)
        let present = Set(chunks.prefix(16).map(\.digest.description))
        let transport = RecordingTransport(stored: present)
        let uploader = ChunkUploader(server: transport, taskID: "t", known: [], logger: Logger(label: "uploader-test"))
        let sent = try await withThrowingTaskGroup(of: Int.self) { group in
            // Every chunk twice: the second ask waits for the first and sends nothing.
            for chunk in chunks + chunks {
                group.addTask { try await uploader.ensure(chunk.digest) { EncodedChunk.file(of: chunk.plain) } }
            }
            return try await group.reduce(0, +)
        }
        let state = transport.state.withLock { $0 }
        #expect(state.uploads.count == 48 && Set(state.uploads).count == 48)
        #expect(Set(state.uploads).isDisjoint(with: present))
        #expect(state.queries.count < 64 / 2, "queries: \(state.queries.map(\.count))")
        #expect(state.queries.flatMap { $0 }.count == 64, "each digest is asked about once")
        #expect(await uploader.uploadedChunks == 48 && sent > 0)
        #expect(await uploader.queries == state.queries.count)
    }

    /// A digest the base point names costs no query at all.
    @Test func knownDigestsAreNeverAskedAbout() async throws {
        let chunk = Self.chunk(1)
        let transport = RecordingTransport()
        let uploader = ChunkUploader(
            server: transport, taskID: "t", known: [chunk.digest], logger: Logger(label: "uploader-test"))
        #expect(try await uploader.ensure(chunk.digest) { EncodedChunk.file(of: chunk.plain) } == 0)
        #expect(transport.state.withLock { $0.queries.isEmpty && $0.uploads.isEmpty })
    }

    /// A query the server refuses fails every chunk that waited for it, uploads nothing, and the next ensure asks
    /// again.
    @Test func aRefusedQueryFailsItsChunksAndTheNextOneAsksAgain() async throws {
        let chunks = (0..<8).map(Self.chunk)
        let transport = RecordingTransport()
        transport.state.withLock { $0.failQueries = 100 }
        let uploader = ChunkUploader(server: transport, taskID: "t", known: [], logger: Logger(label: "uploader-test"))
        let failures = await withTaskGroup(of: Bool.self) { group in
            for chunk in chunks {
                group.addTask { (try? await uploader.ensure(chunk.digest) { EncodedChunk.file(of: chunk.plain) }) == nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 8)
        #expect(transport.state.withLock { $0.uploads.isEmpty })
        transport.state.withLock { $0.failQueries = 0 }
        #expect(try await uploader.ensure(chunks[0].digest) { EncodedChunk.file(of: chunks[0].plain) } > 0)
        #expect(transport.state.withLock { $0.uploads } == [chunks[0].digest.description])
    }
}
