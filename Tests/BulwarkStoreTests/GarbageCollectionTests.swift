import BulwarkCore
import BulwarkStore
import Foundation
import Testing

@Suite struct GarbageCollectionTests {
    let hour: Duration = .seconds(3600)

    @Test func sweepsOnlyOldUnreferencedChunks() throws {
        try withDatastore { store, _ in
            let kept = randomBytes(smallChunk)
            let point = try storePoint(kept, in: store)
            let orphanOld = try store.writeChunk(randomBytes(smallChunk)).digest
            let orphanYoung = try store.writeChunk(randomBytes(smallChunk)).digest
            let now = Date()
            try age(chunkFile(orphanOld, in: store), to: now.addingTimeInterval(-7200))
            try age(chunkFile(ChunkDigest.of(kept), in: store), to: now.addingTimeInterval(-7200))

            let report = try store.collectGarbage(gracePeriod: hour, now: now)
            #expect(report.pointsMarked == 1)
            #expect(report.chunksReferenced == 1)
            #expect(report.chunksRemoved == 1)
            #expect(report.bytesRemoved == UInt64(smallChunk + 16))
            #expect(report.chunksKept == 2)
            #expect(report.chunksKeptForGracePeriod == 1)
            #expect(!store.hasChunk(orphanOld))
            #expect(store.hasChunk(orphanYoung))
            #expect(try restore(point, from: store) == kept)

            // Once the grace period has passed, the young orphan goes too.
            let later = try store.collectGarbage(gracePeriod: hour, now: now.addingTimeInterval(7200))
            #expect(later.chunksRemoved == 1)
            #expect(!store.hasChunk(orphanYoung))
            #expect(try store.verify().isClean)
        }
    }

    @Test func reusingAChunkRestartsItsGracePeriod() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            let digest = try store.writeChunk(bytes).digest
            let now = Date()
            try age(chunkFile(digest, in: store), to: now.addingTimeInterval(-7200))
            // A sync dedups against the old orphan; its point is not committed yet when collection runs.
            #expect(try !store.writeChunk(bytes).isNew)
            #expect(try store.collectGarbage(gracePeriod: hour, now: now).chunksRemoved == 0)
            #expect(store.hasChunk(digest))
        }
    }

    @Test func deletingAPointThenCollectingFreesItsSpace() throws {
        try withDatastore { store, _ in
            let shared = randomBytes(smallChunk)
            let keep = try storePoint(shared + randomBytes(smallChunk), in: store)
            let drop = try storePoint(shared + randomBytes(smallChunk) + compressibleBytes(smallChunk), in: store)
            let before = try store.statistics()
            #expect(before.chunkCount == 4)
            try store.deleteRecoveryPoint(drop)

            let future = Date().addingTimeInterval(86400)
            let report = try store.collectGarbage(gracePeriod: hour, now: future)
            #expect(report.chunksRemoved == 2)
            let after = try store.statistics()
            #expect(after.chunkCount == 2)
            #expect(after.storedBytes == before.storedBytes - report.bytesRemoved)
            #expect(after.pointCount == 1)
            #expect(try store.verify().isClean)
            #expect(try restore(keep, from: store).count == 2 * smallChunk)
        }
    }

    @Test func removesLeftoversOfDeadWritersAfterTheGracePeriod() throws {
        try withDatastore { store, _ in
            let point = try storePoint(randomBytes(smallChunk), in: store)
            let now = Date()
            let old = now.addingTimeInterval(-7200)
            let digest = ChunkDigest.of(randomBytes(100))
            let folder = "\(store.root)/.chunks/\(digest.description.prefix(4))"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // A chunk writer killed mid-write (old) and one still writing (young).
            try writeFile("\(folder)/\(digest).tmp-dead", Array(randomBytes(50)))
            try age("\(folder)/\(digest).tmp-dead", to: old)
            try writeFile("\(folder)/\(digest).tmp-busy", Array(randomBytes(50)))
            // A point writer killed before its manifest (old) and one in progress (young).
            let vmFolder = "\(store.root)/\(point.vm.uuidString.lowercased())"
            let dead = "\(vmFolder)/\(RecoveryPointID.generate())"
            let busy = "\(vmFolder)/\(RecoveryPointID.generate())"
            for incomplete in [dead, busy] {
                try FileManager.default.createDirectory(atPath: incomplete, withIntermediateDirectories: false)
                try writeFile("\(incomplete)/vda.fidx.tmp-1234", randomBytes(64))
            }
            try age(dead, to: old)
            // A manifest writer killed after the rename of an earlier attempt's leftovers.
            try writeFile("\(store.root)/\(point)/manifest.json.tmp-dead", Array("{".utf8))
            try age("\(store.root)/\(point)/manifest.json.tmp-dead", to: old)
            // Not the datastore's: left alone.
            try writeFile("\(folder)/README", Array("mine".utf8))
            try age("\(folder)/README", to: old)

            let report = try store.collectGarbage(gracePeriod: hour, now: now)
            #expect(report.temporaryFilesRemoved == 2)
            #expect(report.incompletePointsRemoved == 1)
            #expect(report.chunksRemoved == 0)
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(digest).tmp-dead"))
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(digest).tmp-busy"))
            #expect(!FileManager.default.fileExists(atPath: dead))
            #expect(FileManager.default.fileExists(atPath: busy))
            #expect(FileManager.default.fileExists(atPath: "\(folder)/README"))
            #expect(!FileManager.default.fileExists(atPath: "\(store.root)/\(point)/manifest.json.tmp-dead"))
            #expect(try store.listRecoveryPoints() == [point])
            #expect(try store.verify().isClean)
        }
    }

    @Test func removesQuarantinedChunksAfterTheGracePeriod() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            try storePoint(bytes, in: store)
            let path = chunkFile(ChunkDigest.of(bytes), in: store)
            var file = try fileBytes(path)
            file[20] ^= 1
            try writeFile(path, file)
            #expect(try store.verify().badChunks.first?.quarantined == true)
            #expect(try store.collectGarbage(gracePeriod: hour).quarantinedFilesRemoved == 0)
            let report = try store.collectGarbage(gracePeriod: hour, now: Date().addingTimeInterval(7200))
            #expect(report.quarantinedFilesRemoved == 1)
            #expect(!FileManager.default.fileExists(atPath: path + ".bad"))
        }
    }

    @Test func stopsBeforeRemovingAnythingWhenAPointIsUnreadable() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            let point = try storePoint(bytes, in: store)
            let orphan = try store.writeChunk(randomBytes(smallChunk)).digest
            var index = try fileBytes("\(store.root)/\(point)/vda.fidx")
            index[80] ^= 1
            try writeFile("\(store.root)/\(point)/vda.fidx", index)
            let future = Date().addingTimeInterval(86400)
            let error = datastoreError { _ = try store.collectGarbage(gracePeriod: hour, now: future) }
            #expect(error?.code == .indexCorrupt)
            #expect(error?.message.contains("before removing anything") == true)
            #expect(store.hasChunk(orphan))
            #expect(store.hasChunk(ChunkDigest.of(bytes)))
        }
    }
}
