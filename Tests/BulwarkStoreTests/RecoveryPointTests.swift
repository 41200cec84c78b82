import BulwarkCore
import BulwarkStore
import Foundation
import Testing

@Suite struct RecoveryPointTests {
    /// A disk of mixed content: random, compressible, zero and repeated chunks, and a short last chunk.
    static func mixedImage() -> [UInt8] {
        let random = randomBytes(smallChunk)
        return random + compressibleBytes(smallChunk) + [UInt8](repeating: 0, count: 2 * smallChunk) + random
            + randomBytes(smallChunk / 2) + [UInt8](repeating: 0, count: smallChunk / 2) + randomBytes(1234)
    }

    @Test func restoresAWholeDiskByteForByte() throws {
        try withDatastore { store, folder in
            let image = Self.mixedImage()
            let point = try storePoint(image, in: store)
            #expect(sha256(try restore(point, from: store)) == sha256(image))

            // Through a FileHandle, as a restore to a file does.
            let target = folder.file("restored.img")
            #expect(FileManager.default.createFile(atPath: target, contents: nil))
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: target))
            let written = try store.restoreDisk(point, disk: "vda", to: handle)
            try handle.close()
            #expect(written == UInt64(image.count))
            #expect(sha256(try fileBytes(target)) == sha256(image))
        }
    }

    @Test func restoresDisksWhoseLastChunkIsShortZeros() throws {
        try withDatastore { store, _ in
            for image in [
                [UInt8](repeating: 0, count: 3 * smallChunk + 5), [UInt8](repeating: 0, count: 7), randomBytes(smallChunk),
            ] {
                let point = try storePoint(image, in: store)
                #expect(try restore(point, from: store) == image)
            }
        }
    }

    @Test func writesListsAndReadsManifests() throws {
        try withDatastore { store, _ in
            let vm = UUID()
            var manifest = sampleManifest(vm: vm, kind: .consistencyCheck)
            manifest.consistency = .appConsistent
            let small = randomBytes(100)
            let disks = [
                "vda": try storeDisk(Self.mixedImage(), in: store),
                "sdb": try storeDisk(small, in: store),
            ]
            let written = try store.writeRecoveryPoint(manifest: manifest, indexes: disks)
            #expect(written.disks.map(\.target) == ["sdb", "vda"])
            #expect(written.disk("sdb")?.logicalSize == 100)
            #expect(written.disk("vda")?.indexFile == "vda.fidx")

            let point = RecoveryPointRef(vm: vm, point: manifest.pointID)
            let read = try store.readManifest(point)
            #expect(read == written)
            #expect(read.createdAt.timeIntervalSince(manifest.createdAt).magnitude < 0.001)
            #expect(read.labels == ["group": "tier1"])
            #expect(read.syncKind == .consistencyCheck)
            #expect(read.consistency == .appConsistent)
            #expect(try store.readIndex(point, disk: "sdb") == disks["sdb"])
            #expect(try restore(point, disk: "sdb", from: store) == small)
            #expect(datastoreError { _ = try store.readIndex(point, disk: "vdz") }?.code == .diskNotFound)

            let json = try String(contentsOfFile: "\(store.root)/\(point)/manifest.json", encoding: .utf8)
            for text in ["\"consistency-check\"", "\"app-consistent\"", "\"bulwark-1\"", manifest.pointID.description] {
                #expect(json.contains(text), "\(text)")
            }

            let second = try storePoint(small, in: store, vm: vm)
            #expect(try store.listRecoveryPoints(vm: vm) == [point.point, second.point].sorted())
            #expect(try store.listVMs() == [vm])
            #expect(Set(try store.listRecoveryPoints()) == [point, second])
            #expect(try store.listRecoveryPoints(vm: UUID()).isEmpty)
        }
    }

    @Test func refusesPointsThatNameMissingChunksOrExistAlready() throws {
        try withDatastore { store, _ in
            var index = try storeDisk(randomBytes(2 * smallChunk), in: store)
            let manifest = sampleManifest()
            let point = RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID)
            let good = index
            let absent = ChunkDigest.of(randomBytes(64))
            index[1] = absent
            let error = datastoreError { try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": index]) }
            #expect(error?.code == .chunkMissing)
            #expect(error?.digest == absent)
            #expect(try store.listRecoveryPoints(vm: manifest.vmUUID).isEmpty)

            try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": good])
            #expect(
                datastoreError { try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": good]) }?.code
                    == .pointExists)
            #expect(
                datastoreError { try store.writeRecoveryPoint(manifest: sampleManifest(), indexes: ["../x": good]) }?
                    .code == .invalidArgument)
            let other = try FixedIndex(chunkSize: 1 << 20, logicalSize: 10)
            #expect(
                datastoreError { try store.writeRecoveryPoint(manifest: sampleManifest(), indexes: ["vda": other]) }?
                    .code == .invalidChunkSize)
            #expect(try store.listRecoveryPoints() == [point])
        }
    }

    @Test func ignoresPointsWithoutAManifest() throws {
        try withDatastore { store, _ in
            let point = try storePoint(randomBytes(1000), in: store)
            // A writer that died after its index and before its manifest.
            let incomplete = "\(store.root)/\(point.vm.uuidString.lowercased())/\(RecoveryPointID.generate())"
            try FileManager.default.createDirectory(atPath: incomplete, withIntermediateDirectories: false)
            try FileManager.default.copyItem(atPath: "\(store.root)/\(point)/vda.fidx", toPath: "\(incomplete)/vda.fidx")
            #expect(try store.listRecoveryPoints() == [point])
            #expect(try store.verify().isClean)
        }
    }

    @Test func detectsDamagedManifestsAndIndexes() throws {
        try withDatastore { store, _ in
            let point = try storePoint(randomBytes(3 * smallChunk), in: store)
            let folder = "\(store.root)/\(point)"
            let index = try fileBytes("\(folder)/vda.fidx")
            var flipped = index
            flipped[70] ^= 1
            try writeFile("\(folder)/vda.fidx", flipped)
            #expect(datastoreError { _ = try store.readIndex(point, disk: "vda") }?.code == .indexCorrupt)
            #expect(datastoreError { _ = try restore(point, from: store) }?.code == .indexCorrupt)
            try FileManager.default.removeItem(atPath: "\(folder)/vda.fidx")
            #expect(datastoreError { _ = try store.readIndex(point, disk: "vda") }?.code == .indexCorrupt)
            try writeFile("\(folder)/vda.fidx", index)
            #expect(try store.readIndex(point, disk: "vda").chunkCount == 3)

            let manifest = try fileBytes("\(folder)/manifest.json")
            try writeFile("\(folder)/manifest.json", Array(manifest.prefix(manifest.count / 2)))
            #expect(datastoreError { _ = try store.readManifest(point) }?.code == .manifestCorrupt)
            let edited = String(decoding: manifest, as: UTF8.self).replacingOccurrences(
                of: "\"vda.fidx\"", with: "\"../../escape.fidx\"")
            try writeFile("\(folder)/manifest.json", Array(edited.utf8))
            #expect(datastoreError { _ = try store.readManifest(point) }?.code == .manifestCorrupt)

            // A manifest moved into another point's folder.
            let other = try storePoint(randomBytes(10), in: store)
            try writeFile("\(store.root)/\(other)/manifest.json", manifest)
            #expect(datastoreError { _ = try store.readManifest(other) }?.code == .manifestCorrupt)

            #expect(
                datastoreError { _ = try store.readManifest(RecoveryPointRef(vm: UUID(), point: .generate())) }?.code
                    == .pointNotFound)
        }
    }

    @Test func deletingAPointKeepsItsChunksForOtherPoints() throws {
        try withDatastore { store, _ in
            let image = randomBytes(4 * smallChunk)
            let first = try storePoint(image, in: store)
            let second = try storePoint(image, in: store)
            try store.deleteRecoveryPoint(first)
            #expect(!FileManager.default.fileExists(atPath: "\(store.root)/\(first)"))
            #expect(try store.listRecoveryPoints() == [second])
            #expect(try restore(second, from: store) == image)
            #expect(try store.statistics().chunkCount == 4)
            #expect(datastoreError { try store.deleteRecoveryPoint(first) }?.code == .pointNotFound)
        }
    }
}
