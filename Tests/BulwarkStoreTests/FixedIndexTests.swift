import BulwarkStore
import Foundation
import Testing

@Suite struct FixedIndexTests {
    @Test func countsChunksWithAShortLastOne() throws {
        #expect(FixedIndex.chunkCount(logicalSize: 0, chunkSize: smallChunk) == 0)
        #expect(FixedIndex.chunkCount(logicalSize: 1, chunkSize: smallChunk) == 1)
        #expect(FixedIndex.chunkCount(logicalSize: UInt64(smallChunk), chunkSize: smallChunk) == 1)
        #expect(FixedIndex.chunkCount(logicalSize: UInt64(smallChunk) + 1, chunkSize: smallChunk) == 2)
        #expect(FixedIndex.chunkCount(logicalSize: UInt64.max, chunkSize: 16 << 20) == 1 << 40)

        let index = try FixedIndex(chunkSize: smallChunk, logicalSize: UInt64(smallChunk) * 2 + 10)
        #expect(index.chunkCount == 3)
        #expect(index.range(ofChunk: 2) == UInt64(smallChunk) * 2..<UInt64(smallChunk) * 2 + 10)
        #expect(index.digests.allSatisfy { $0 == ChunkDigest.zero(chunkSize: smallChunk) })
    }

    @Test func encodesAndDecodesExactly() throws {
        var index = try FixedIndex(chunkSize: smallChunk, logicalSize: 5 * UInt64(smallChunk) - 7)
        for chunk in [0, 2, 4] { index[chunk] = ChunkDigest.of(randomBytes(32)) }
        let bytes = index.encoded()
        #expect(bytes.count == 64 + 5 * 32)
        #expect(Array(bytes.prefix(4)) == Array("BWIX".utf8))
        #expect(try FixedIndex(decoding: bytes, source: "test") == index)

        let empty = try FixedIndex(chunkSize: smallChunk, logicalSize: 0)
        #expect(try FixedIndex(decoding: empty.encoded(), source: "empty") == empty)
    }

    @Test func refusesDigestListsOfTheWrongLength() {
        let error = datastoreError {
            _ = try FixedIndex(chunkSize: smallChunk, logicalSize: UInt64(smallChunk) + 1, digests: [ChunkDigest.of([1])])
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test func decodingCatchesDamageAnywhere() throws {
        var index = try FixedIndex(chunkSize: smallChunk, logicalSize: 3 * UInt64(smallChunk))
        index[1] = ChunkDigest.of([1, 2, 3])
        let good = index.encoded()
        var damaged: [[UInt8]] = []
        for offset in [0, 4, 8, 16, 24, 40, 64, 64 + 40, good.count - 1] {
            var bytes = good
            bytes[offset] ^= 0x10
            damaged.append(bytes)
        }
        damaged.append(Array(good.dropLast()))
        damaged.append(Array(good.dropLast(32)))
        damaged.append(good + [0])
        damaged.append([])
        for (number, bytes) in damaged.enumerated() {
            let error = datastoreError { _ = try FixedIndex(decoding: bytes, source: "vda.fidx") }
            #expect(error?.code == .indexCorrupt, "damage \(number)")
            #expect(error?.message.contains("vda.fidx") == true)
        }
    }
}
