import BulwarkStore
import Foundation
import Testing

@Suite struct VerifyTests {
    @Test func cleanDatastoreVerifiesClean() throws {
        try withDatastore { store, _ in
            let image = RecoveryPointTests.mixedImage()
            try storePoint(image, in: store)
            try storePoint(image, in: store)
            let report = try store.verify()
            #expect(report.isClean)
            #expect(report.pointsChecked == 2)
            // Two identical disks: random (used twice), compressible, half random, tail: 4 distinct stored chunks.
            #expect(report.chunksChecked == 4)
        }
    }

    @Test func reportsAFlippedByteAndEveryPointUsingTheChunk() throws {
        try withDatastore { store, _ in
            let shared = randomBytes(smallChunk)
            let vm = UUID()
            let first = try storePoint(shared + randomBytes(smallChunk), in: store, vm: vm)
            let second = try storePoint(shared + compressibleBytes(100), in: store, vm: vm)
            let bystander = try storePoint(randomBytes(smallChunk), in: store)
            let digest = ChunkDigest.of(shared)
            var file = try fileBytes(chunkFile(digest, in: store))
            file[100] ^= 0x80
            try writeFile(chunkFile(digest, in: store), file)

            let report = try store.verify(quarantine: false)
            #expect(!report.isClean)
            #expect(report.badChunks.map(\.digest) == [digest])
            #expect(report.badChunks.first?.code == .chunkCorrupt)
            #expect(report.badChunks.first?.points == [first, second].sorted())
            #expect(report.badChunks.first?.quarantined == false)
            #expect(report.damagedPoints.map(\.point) == [first, second].sorted())
            #expect(report.damagedPoints.allSatisfy { $0.badChunks == [digest] })
            #expect(!report.damagedPoints.map(\.point).contains(bystander))

            // Only the bystander: clean.
            #expect(try store.verify(points: [bystander]).isClean)
        }
    }

    @Test func quarantineLetsTheNextSyncStoreTheChunkAgain() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            let point = try storePoint(bytes, in: store)
            let digest = ChunkDigest.of(bytes)
            var file = try fileBytes(chunkFile(digest, in: store))
            file[file.count - 1] ^= 1
            try writeFile(chunkFile(digest, in: store), file)

            let report = try store.verify()
            #expect(report.badChunks.first?.quarantined == true)
            #expect(!store.hasChunk(digest))
            #expect(FileManager.default.fileExists(atPath: chunkFile(digest, in: store) + ".bad"))

            // The next sync that still has the data sends it; the datastore stores it again.
            #expect(try store.writeChunk(bytes).isNew)
            #expect(try store.verify().isClean)
            #expect(try restore(point, from: store) == bytes)
        }
    }

    @Test func reportsMissingAndTruncatedChunksAndDamagedIndexes() throws {
        try withDatastore { store, _ in
            let gone = randomBytes(smallChunk)
            let cut = compressibleBytes(smallChunk, seed: 7)
            let point = try storePoint(gone + cut, in: store)
            try FileManager.default.removeItem(atPath: chunkFile(ChunkDigest.of(gone), in: store))
            let cutPath = chunkFile(ChunkDigest.of(cut), in: store)
            try writeFile(cutPath, Array(try fileBytes(cutPath).dropLast(3)))

            let broken = try storePoint(randomBytes(10), in: store)
            var index = try fileBytes("\(store.root)/\(broken)/vda.fidx")
            index[20] ^= 1
            try writeFile("\(store.root)/\(broken)/vda.fidx", index)

            let report = try store.verify()
            let codes = Dictionary(uniqueKeysWithValues: report.badChunks.map { ($0.digest, $0.code) })
            #expect(codes == [ChunkDigest.of(gone): .chunkMissing, ChunkDigest.of(cut): .chunkCorrupt])
            #expect(report.damagedPoints.map(\.point) == [point, broken].sorted())
            let damage = report.damagedPoints.first { $0.point == broken }
            #expect(damage?.problems.count == 1)
            #expect(damage?.problems.first?.contains("vda.fidx") == true)
            #expect(report.badChunks.first { $0.code == .chunkMissing }?.quarantined == false)
        }
    }
}
