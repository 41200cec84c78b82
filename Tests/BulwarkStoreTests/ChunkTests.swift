import Foundation
import Testing

@testable import BulwarkStore

@Suite struct ChunkTests {
    @Test func digestsAreSHA256OfThePlainBytes() {
        #expect(
            ChunkDigest.of(Array("abc".utf8)).description
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let digest = ChunkDigest.of(randomBytes(100))
        #expect(ChunkDigest(digest.description) == digest)
        #expect(ChunkDigest(digest.description.uppercased()) == digest)
        #expect(ChunkDigest(bytes: digest.bytes) == digest)
        #expect(ChunkDigest("xyz") == nil)
        #expect(ChunkDigest(String(repeating: "g", count: 64)) == nil)
    }

    @Test func crc32MatchesTheIEEECheckValue() {
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([]) == 0)
        // libdeflate must agree with the bit-by-bit definition at every length.
        let bytes = randomBytes(77)
        for length in 0...bytes.count {
            var crc: UInt32 = 0xFFFF_FFFF
            for byte in bytes[..<length] {
                crc ^= UInt32(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
            }
            #expect(CRC32.checksum(Array(bytes[..<length])) == ~crc)
        }
    }

    @Test func roundTripsRandomCompressibleAndShortChunks() throws {
        try withDatastore { store, _ in
            for bytes in [randomBytes(smallChunk), compressibleBytes(smallChunk), randomBytes(1000), [42]] {
                let result = try store.writeChunk(bytes)
                #expect(result.isNew)
                #expect(!result.isZero)
                #expect(result.digest == ChunkDigest.of(bytes))
                #expect(store.hasChunk(result.digest))
                #expect(try store.readChunk(result.digest) == bytes)
            }
        }
    }

    /// Large chunks are sampled first: noise is stored raw without a full zstd pass, and a chunk whose start is
    /// noise but whose middle or end compresses is still compressed.
    @Test func largeChunksAreSampledBeforeCompressing() throws {
        try withDatastore(chunkSize: 1 << 20) { store, _ in
            let noise = try store.writeChunk(randomBytes(1 << 20))
            #expect(noise.storedBytes == (1 << 20) + 16)
            for split in [1 << 18, 3 << 18] {
                let mixed = randomBytes(split) + compressibleBytes((1 << 20) - split)
                let stored = try store.writeChunk(mixed)
                #expect(stored.storedBytes < (1 << 20) - (1 << 17), "split at \(split)")
                #expect(try store.readChunk(stored.digest) == mixed)
            }
        }
    }

    @Test func compressesWhenItHelpsAndStoresRawWhenNot() throws {
        try withDatastore { store, _ in
            let text = try store.writeChunk(compressibleBytes(smallChunk))
            #expect(text.storedBytes < smallChunk / 10)
            let header = try fileBytes(chunkFile(text.digest, in: store)).prefix(16)
            #expect(Array(header.prefix(4)) == Array("BWCK".utf8))
            #expect(header[6] == 1)  // zstd

            let noise = try store.writeChunk(randomBytes(smallChunk))
            #expect(noise.storedBytes == smallChunk + 16)
            #expect(try fileBytes(chunkFile(noise.digest, in: store))[6] == 0)  // raw
        }
    }

    @Test func neverStoresAFullChunkOfZeros() throws {
        try withDatastore { store, _ in
            let zeros = [UInt8](repeating: 0, count: smallChunk)
            let result = try store.writeChunk(zeros)
            #expect(result.isZero)
            #expect(!result.isNew)
            #expect(result.storedBytes == 0)
            #expect(result.digest == store.zeroDigest)
            #expect(result.digest == ChunkDigest.of(zeros))
            #expect(!FileManager.default.fileExists(atPath: chunkFile(result.digest, in: store)))
            #expect(store.hasChunk(store.zeroDigest))
            #expect(try store.readChunk(store.zeroDigest) == zeros)
            #expect(try store.statistics().chunkCount == 0)

            // A short run of zeros (a disk's last chunk) is ordinary data.
            let short = try store.writeChunk([UInt8](repeating: 0, count: 100))
            #expect(!short.isZero)
            #expect(try store.readChunk(short.digest) == [UInt8](repeating: 0, count: 100))
        }
    }

    @Test func storesTheSameDataOnce() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            let first = try store.writeChunk(bytes)
            let second = try store.writeChunk(bytes)
            #expect(first.isNew)
            #expect(!second.isNew)
            #expect(second.digest == first.digest)
            #expect(second.storedBytes == first.storedBytes)
            #expect(try store.statistics().chunkCount == 1)
        }
    }

    @Test func refusesChunksThatDoNotFitOrDoNotMatchTheirClaimedDigest() throws {
        try withDatastore { store, _ in
            #expect(datastoreError { _ = try store.writeChunk(randomBytes(smallChunk + 1)) }?.code == .invalidArgument)
            #expect(datastoreError { _ = try store.writeChunk([]) }?.code == .invalidArgument)
            let bytes = randomBytes(500)
            let wrong = ChunkDigest.of(randomBytes(500))
            let error = datastoreError { _ = try store.writeChunk(bytes, expecting: wrong) }
            #expect(error?.code == .digestMismatch)
            #expect(error?.digest == wrong)
            #expect(!store.hasChunk(ChunkDigest.of(bytes)))
            let accepted = try store.writeChunk(bytes, expecting: ChunkDigest.of(bytes))
            #expect(accepted.isNew)
        }
    }

    @Test func readsReportMissingCorruptTruncatedAndMisfiledChunks() throws {
        try withDatastore { store, _ in
            let missing = ChunkDigest.of(randomBytes(10))
            let missingError = datastoreError { _ = try store.readChunk(missing) }
            #expect(missingError?.code == .chunkMissing)
            #expect(missingError?.digest == missing)
            #expect(missingError?.message.contains(missing.description) == true)

            for bytes in [randomBytes(smallChunk), compressibleBytes(smallChunk)] {
                let flipped = try store.writeChunk(bytes).digest
                var file = try fileBytes(chunkFile(flipped, in: store))
                file[file.count / 2] ^= 0x01
                try writeFile(chunkFile(flipped, in: store), file)
                #expect(datastoreError { _ = try store.readChunk(flipped) }?.code == .chunkCorrupt)
            }

            let truncated = try store.writeChunk(randomBytes(smallChunk)).digest
            let file = try fileBytes(chunkFile(truncated, in: store))
            try writeFile(chunkFile(truncated, in: store), Array(file.prefix(file.count - 100)))
            #expect(datastoreError { _ = try store.readChunk(truncated) }?.code == .chunkCorrupt)
            try writeFile(chunkFile(truncated, in: store), Array(file.prefix(10)))
            #expect(datastoreError { _ = try store.readChunk(truncated) }?.code == .chunkCorrupt)

            // A damaged header: an impossible plain length, a changed codec.
            let header = try store.writeChunk(compressibleBytes(smallChunk, seed: 3)).digest
            let original = try fileBytes(chunkFile(header, in: store))
            for (offset, value) in [(11, UInt8(0x7f)), (6, UInt8(0)), (4, UInt8(9)), (0, UInt8(0))] {
                var damaged = original
                damaged[offset] = value
                try writeFile(chunkFile(header, in: store), damaged)
                #expect(datastoreError { _ = try store.readChunk(header) }?.code == .chunkCorrupt, "offset \(offset)")
            }

            // A whole, valid chunk file under another chunk's name.
            let source = try store.writeChunk(randomBytes(300)).digest
            let victim = try store.writeChunk(randomBytes(300)).digest
            try writeFile(chunkFile(victim, in: store), try fileBytes(chunkFile(source, in: store)))
            let misfiled = datastoreError { _ = try store.readChunk(victim) }
            #expect(misfiled?.code == .digestMismatch)
            #expect(misfiled?.digest == victim)
        }
    }
}
