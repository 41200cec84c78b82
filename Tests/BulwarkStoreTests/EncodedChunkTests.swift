import BulwarkStore
import Foundation
import Testing

/// Chunks an agent encodes itself: the server stores the file it was sent, byte for byte, only after checking it.
@Suite struct EncodedChunkTests {
    @Test func anEncodedChunkIsStoredAsSentAndReadsBack() throws {
        try withDatastore { store, _ in
            for plain in [randomBytes(smallChunk), compressibleBytes(smallChunk), randomBytes(1000), [7]] {
                let chunk = EncodedChunk.encode(plain, chunkSize: store.chunkSize)
                #expect(!chunk.isZero && chunk.plainLength == plain.count && chunk.digest == ChunkDigest.of(plain))
                #expect(chunk.bytes.count <= store.maximumChunkFileSize)
                let result = try store.writeEncodedChunk(chunk.bytes, digest: chunk.digest)
                #expect(result.isNew && !result.isZero && result.storedBytes == chunk.bytes.count)
                #expect(store.hasChunk(chunk.digest))
                #expect(try store.readChunk(chunk.digest) == plain)
                let file = "\(store.root)/.chunks/\(chunk.digest.description.prefix(4))/\(chunk.digest)"
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: file))) == chunk.bytes)

                let again = try store.writeEncodedChunk(chunk.bytes, digest: chunk.digest)
                #expect(!again.isNew && again.storedBytes == chunk.bytes.count)
            }
            // The same chunk written by the server itself is the same file: agent and server encode alike.
            let plain = compressibleBytes(smallChunk, seed: 9)
            let written = try store.writeChunk(plain)
            let encoded = EncodedChunk.encode(plain, chunkSize: store.chunkSize)
            #expect(written.storedBytes == encoded.bytes.count && written.digest == encoded.digest)
        }
    }

    @Test func aZeroChunkHasTheZeroDigestAndNothingToSend() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode([UInt8](repeating: 0, count: store.chunkSize), chunkSize: store.chunkSize)
            #expect(chunk.isZero && chunk.bytes.isEmpty && chunk.digest == store.zeroDigest)
            let result = try store.writeEncodedChunk([], digest: store.zeroDigest)
            #expect(result.isZero && !result.isNew && result.storedBytes == 0)
            // A short run of zeros (a disk's last chunk) is ordinary data.
            let short = EncodedChunk.encode([UInt8](repeating: 0, count: 100), chunkSize: store.chunkSize)
            #expect(!short.isZero && !short.bytes.isEmpty)
            #expect(try store.writeEncodedChunk(short.bytes, digest: short.digest).isNew)
        }
    }

    @Test func aChunkUnderAnotherDigestIsRefused() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode(randomBytes(5000), chunkSize: store.chunkSize)
            let other = ChunkDigest.of([1, 2, 3])
            let error = #expect(throws: DatastoreError.self) { try store.writeEncodedChunk(chunk.bytes, digest: other) }
            #expect(error?.code == .digestMismatch)
            #expect(error?.message.contains(other.description) == true)
            #expect(!store.hasChunk(other) && !store.hasChunk(chunk.digest))
        }
    }

    @Test func damagedOrOversizedFilesAreRefused() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode(compressibleBytes(smallChunk), chunkSize: store.chunkSize)
            var flipped = chunk.bytes
            flipped[flipped.count - 1] ^= 0xff
            var badMagic = chunk.bytes
            badMagic[0] = UInt8(ascii: "X")
            for bad in [flipped, badMagic, Array(chunk.bytes.prefix(10)), Array(chunk.bytes.dropLast())] {
                let error = #expect(throws: DatastoreError.self) { try store.writeEncodedChunk(bad, digest: chunk.digest) }
                #expect(error?.code == .chunkCorrupt, "\(String(describing: error))")
                #expect(error?.message.contains("damaged") == true)
            }
            #expect(!store.hasChunk(chunk.digest))

            // More than a chunk's worth of data, however it is packed, does not fit the datastore.
            let big = EncodedChunk.encode(randomBytes(smallChunk + 1), chunkSize: store.chunkSize)
            let tooBig = #expect(throws: DatastoreError.self) { try store.writeEncodedChunk(big.bytes, digest: big.digest) }
            #expect(tooBig?.code == .invalidArgument)
            let packed = EncodedChunk.encode(compressibleBytes(smallChunk * 2), chunkSize: store.chunkSize)
            let tooLong = #expect(throws: DatastoreError.self) {
                try store.writeEncodedChunk(packed.bytes, digest: packed.digest)
            }
            #expect(tooLong?.code == .chunkCorrupt)
            #expect(!store.hasChunk(big.digest) && !store.hasChunk(packed.digest))
        }
    }
}
