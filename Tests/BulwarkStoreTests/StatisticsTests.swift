import BulwarkStore
import Foundation
import Testing

@Suite struct StatisticsTests {
    @Test func countsDedupAndCompression() throws {
        try withDatastore { store, _ in
            let empty = try store.statistics()
            #expect(empty.chunkCount == 0)
            #expect(empty.dedupRatio == 1)
            #expect(empty.compressionRatio == 1)

            // Two points of the same disk: one random chunk, one compressible chunk, two zero chunks.
            let image = randomBytes(smallChunk) + compressibleBytes(smallChunk)
                + [UInt8](repeating: 0, count: 2 * smallChunk)
            try storePoint(image, in: store)
            try storePoint(image, in: store)
            let statistics = try store.statistics()
            #expect(statistics.pointCount == 2)
            #expect(statistics.logicalBytes == 2 * UInt64(image.count))
            #expect(statistics.referencedBytes == 2 * 2 * UInt64(smallChunk))
            #expect(statistics.chunkCount == 2)
            #expect(statistics.plainBytes == 2 * UInt64(smallChunk))
            #expect(statistics.dedupRatio == 2)
            #expect(statistics.storedBytes < statistics.plainBytes)
            #expect(statistics.storedBytes > UInt64(smallChunk))
            #expect(statistics.compressionRatio > 1.5)
        }
    }
}
