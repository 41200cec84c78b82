import BulwarkCore
import BulwarkStore
import Foundation
import Testing

/// What a process killed at any moment leaves behind, made by hand: the datastore must read, verify and write on as
/// if nothing were there, and garbage collection must clean it up.
@Suite struct CrashSimulationTests {
    @Test func aChunkWriterKilledBeforeItsRenameLeavesNoChunk() throws {
        try withDatastore { store, _ in
            let bytes = randomBytes(smallChunk)
            let digest = ChunkDigest.of(bytes)
            let path = chunkFile(digest, in: store)
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            // Killed half-way through its write: a temporary file with half a chunk.
            try writeFile(path + ".tmp-deadbeef", Array(try fileBytesOfChunk(bytes, in: store).prefix(1000)))
            #expect(!store.hasChunk(digest))
            #expect(datastoreError { _ = try store.readChunk(digest) }?.code == .chunkMissing)
            #expect(try store.statistics().chunkCount == 0)

            let result = try store.writeChunk(bytes)
            #expect(result.isNew)
            #expect(try store.readChunk(digest) == bytes)
            #expect(try store.verify().isClean)
        }
    }

    @Test func aPointWriterKilledBeforeItsManifestLeavesNoPoint() throws {
        try withDatastore { store, _ in
            let image = randomBytes(3 * smallChunk)
            let index = try storeDisk(image, in: store)
            let manifest = sampleManifest()
            let point = RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID)
            let folder = "\(store.root)/\(point)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            // Killed after its index and during its manifest.
            try writeFile("\(folder)/vda.fidx", index.encoded())
            try writeFile("\(folder)/manifest.json.tmp-1", Array("{\"formatVersion\"".utf8))
            #expect(try store.listRecoveryPoints().isEmpty)
            #expect(datastoreError { _ = try store.readManifest(point) }?.code == .pointNotFound)
            #expect(try store.verify().isClean)

            // The job runs again with the same point id and succeeds.
            try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": index])
            #expect(try store.listRecoveryPoints() == [point])
            #expect(try restore(point, from: store) == image)
            let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
            #expect(names == ["manifest.json", "vda.fidx"])
        }
    }

    @Test func aDeletionKilledAfterItsManifestLeavesAnIncompletePointForCollection() throws {
        try withDatastore { store, _ in
            let point = try storePoint(randomBytes(2 * smallChunk), in: store)
            try FileManager.default.removeItem(atPath: "\(store.root)/\(point)/manifest.json")
            #expect(try store.listRecoveryPoints().isEmpty)
            let report = try store.collectGarbage(gracePeriod: .seconds(60), now: Date().addingTimeInterval(3600))
            #expect(report.incompletePointsRemoved == 1)
            #expect(report.chunksRemoved == 2)
            #expect(try store.statistics().chunkCount == 0)
        }
    }

    /// The file a chunk write produces, read back through a scratch datastore.
    private func fileBytesOfChunk(_ bytes: [UInt8], in store: Datastore) throws -> [UInt8] {
        try withDatastore(chunkSize: store.chunkSize) { scratch, _ in
            try fileBytes(chunkFile(try scratch.writeChunk(bytes).digest, in: scratch))
        }
    }
}
