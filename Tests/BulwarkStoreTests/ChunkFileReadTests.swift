import Foundation
import Testing

@testable import BulwarkStore

/// A chunk file read into a caller's buffer, as the restore route sends it: as stored, or a clear error.
@Suite struct ChunkFileReadTests {
    @Test func aStoredFileReadsIntoABufferOfItsSize() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode(compressibleBytes(smallChunk), chunkSize: store.chunkSize)
            _ = try store.writeEncodedChunk(chunk.bytes, digest: chunk.digest)
            let size = try store.chunkFileSize(chunk.digest)
            #expect(size == chunk.bytes.count)
            let read = try [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                try store.readChunkFile(chunk.digest, into: UnsafeMutableRawBufferPointer(buffer))
                count = size
            }
            #expect(read == chunk.bytes)
            #expect(Array(try EncodedChunk.decode(read, digest: chunk.digest, chunkSize: store.chunkSize)) == compressibleBytes(smallChunk))
        }
    }

    @Test func aMissingOrChangedFileIsRefusedByName() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode(randomBytes(5000), chunkSize: store.chunkSize)
            // Not written yet.
            let absent = chunk.digest
            let missing = #expect(throws: DatastoreError.self) { try store.chunkFileSize(absent) }
            #expect(missing?.code == .chunkMissing)
            var buffer = [UInt8](repeating: 0, count: chunk.bytes.count)
            let unread = #expect(throws: DatastoreError.self) {
                try buffer.withUnsafeMutableBytes { try store.readChunkFile(absent, into: $0) }
            }
            #expect(unread?.code == .chunkMissing)

            _ = try store.writeEncodedChunk(chunk.bytes, digest: chunk.digest)
            let size = try store.chunkFileSize(chunk.digest)
            // The file shrank between the size and the read (a torn copy put in its place).
            #expect(truncate(store.chunkPath(chunk.digest), off_t(size - 100)) == 0)
            let short = #expect(throws: DatastoreError.self) {
                try buffer.withUnsafeMutableBytes { try store.readChunkFile(chunk.digest, into: $0) }
            }
            #expect(short?.code == .chunkCorrupt && short?.message.contains(chunk.digest.description) == true)
            // A wrecked header.
            try Data(repeating: 0xff, count: size).write(to: URL(fileURLWithPath: store.chunkPath(chunk.digest)))
            let wrecked = #expect(throws: DatastoreError.self) {
                try buffer.withUnsafeMutableBytes { try store.readChunkFile(chunk.digest, into: $0) }
            }
            #expect(wrecked?.code == .chunkCorrupt)
        }
    }
}
