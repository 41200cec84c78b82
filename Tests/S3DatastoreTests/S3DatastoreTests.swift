import BulwarkCore
import BulwarkStore
import Foundation
import S3
import S3Datastore
import TestSupport
import Testing

/// Datastores whose durable copy is a bucket of the real Ceph RADOS Gateway (`scripts/s3-testbed`), never a mock.
@Suite(.serialized, .s3Gateway) struct S3DatastoreTests {
    static let chunkSize = 64 << 10

    /// An S3 datastore in a new bucket, its cache in a temporary folder, and a client of the same bucket to look at
    /// (and damage) the objects behind the datastore's back.
    struct Fixture {
        var store: Datastore
        var client: S3Client
        var folder: TemporaryDirectory

        func keys() async throws -> Set<String> { Set(try await client.list().map(\.key)) }
        func chunkKey(_ digest: ChunkDigest) -> String { ".chunks/\(digest.description.prefix(4))/\(digest)" }
        func chunkPath(_ digest: ChunkDigest) -> String { "\(store.root)/\(chunkKey(digest))" }
        func close() async {
            await client.shutdown()
            folder.cleanUp()
        }
    }

    static func fixture(requestTimeout: Duration = .seconds(20)) async throws -> Fixture {
        let testbed = try await S3Testbed.shared.start()
        let configuration = try S3Configuration(
            endpoint: testbed.endpoint, bucket: "bw-ds-\(UUID().uuidString.prefix(12).lowercased())", keyPrefix: "ds/",
            credentials: S3Credentials(accessKey: testbed.accessKey, secretKey: testbed.secretKey),
            requestTimeout: requestTimeout, maxAttempts: 2)
        let client = try S3Client(configuration: configuration)
        try await client.createBucket()
        try await S3Datastore.checkNew(client)
        let folder = try TemporaryDirectory("bulwark-s3-store")
        let local = try Datastore.create(at: folder.file("cache"), chunkSize: chunkSize)
        try await S3Datastore.writeMarker(of: local, to: client)
        return Fixture(store: local.backed(by: S3ObjectStore(client: client)), client: client, folder: folder)
    }

    /// Runs blocking datastore calls on a thread of their own: the object store waits for its requests there, which
    /// must not be a thread of the cooperative pool.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// Stores `image` as disk vda of a new point of `vm`.
    static func storePoint(_ image: [UInt8], vm: UUID = UUID(), in store: Datastore) throws -> RecoveryPointRef {
        var index = try FixedIndex(chunkSize: store.chunkSize, logicalSize: UInt64(image.count))
        for chunk in 0..<index.chunkCount {
            let range = index.range(ofChunk: chunk)
            index[chunk] = try store.writeChunk(Array(image[Int(range.lowerBound)..<Int(range.upperBound)])).digest
        }
        let manifest = RecoveryPointManifest(
            pointID: .generate(), vmUUID: vm, vmName: "web1", createdAt: Date(),
            domainXML: "<domain type='qemu'><name>web1</name></domain>", consistency: .crashConsistent,
            syncKind: .full, checkpointName: nil, labels: [:])
        try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": index])
        return RecoveryPointRef(vm: vm, point: manifest.pointID)
    }

    /// The error storing `image` as a point ends in; nil when it was stored. Never throws, so that a test that
    /// stopped the gateway always gets to start it again.
    static func failureToStore(_ image: [UInt8], in store: Datastore) async -> (any Error)? {
        do {
            _ = try await blocking { try storePoint(image, in: store) }
            return nil
        } catch {
            return error
        }
    }

    static func restore(_ point: RecoveryPointRef, from store: Datastore) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try store.readDisk(point, disk: "vda") { _, chunk in bytes += chunk }
        return bytes
    }

    static func mode(_ path: String) -> mode_t {
        var status = stat()
        return stat(path, &status) == 0 ? status.st_mode & 0o777 : 0
    }

    @Test func aPointIsInTheBucketBeforeTheFolderListsItAndRestoresAfterItsCacheIsEvicted() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let image = Self.randomBytes(5 * Self.chunkSize + 1000)
        let point = try await Self.blocking { try Self.storePoint(image, in: store) }

        let keys = try await fixture.keys()
        let folder = "\(point.vm.uuidString.lowercased())/\(point.point)"
        #expect(keys.contains("\(folder)/manifest.json"))
        #expect(keys.contains("\(folder)/vda.fidx"))
        let index = try await Self.blocking { try store.readIndex(point, disk: "vda") }
        for digest in Set(index.digests) {
            #expect(keys.contains(fixture.chunkKey(digest)), "chunk \(digest) is not in the bucket")
            // Read-only in the folder: uploaded, so the next commit does not send it again.
            #expect(Self.mode(fixture.chunkPath(digest)) == 0o400)
        }

        // Everything evicted: the names stay (chunk queries answer from them), the contents come from the bucket.
        let trimmed = try await Self.blocking { try store.trimCache(toBytes: 0) }
        #expect(trimmed.chunksEvicted == Set(index.digests).count)
        #expect(trimmed.cachedBytes == 0)
        for digest in Set(index.digests) {
            #expect(store.hasChunk(digest))
            #expect(try FileManager.default.attributesOfItem(atPath: fixture.chunkPath(digest))[.size] as? Int == 0)
        }
        let restored = try await Self.blocking { try Self.restore(point, from: store) }
        #expect(restored == image)
        // The read cached them again.
        for digest in Set(index.digests) {
            #expect(try FileManager.default.attributesOfItem(atPath: fixture.chunkPath(digest))[.size] as? Int ?? 0 > 0)
        }

        // An agent's restore reads chunk files as stored, by size first: that works on evicted chunks too.
        _ = try await Self.blocking { try store.trimCache(toBytes: 0) }
        let digest = index.digests[0]
        let file = try await Self.blocking { () throws -> [UInt8] in
            let size = try store.chunkFileSize(digest)
            var buffer = [UInt8](repeating: 0, count: size)
            try buffer.withUnsafeMutableBytes { try store.readChunkFile(digest, into: $0) }
            return buffer
        }
        #expect(try ChunkFile.decode(file, digest: digest, path: "test", maximumLength: Self.chunkSize) == Array(image[0..<Self.chunkSize]))
        // Evicted between the size and the read, and the bucket's object not that size: an error, not a crash.
        _ = try await Self.blocking { try store.trimCache(toBytes: 0) }
        let wrongSize = await #expect(throws: DatastoreError.self) {
            try await Self.blocking {
                var buffer = [UInt8](repeating: 0, count: file.count + 1)
                try buffer.withUnsafeMutableBytes { try store.readChunkFile(digest, into: $0) }
            }
        }
        #expect(wrongSize?.code == .chunkCorrupt)
    }

    @Test func aSecondPointUploadsOnlyItsNewChunks() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        var image = Self.randomBytes(4 * Self.chunkSize)
        let vm = UUID()
        let original = image
        _ = try await Self.blocking { try Self.storePoint(original, vm: vm, in: store) }
        let before = try await fixture.client.list().filter { $0.key.hasPrefix(".chunks/") }
        // One chunk changes: one new chunk object, the others untouched (same ETags).
        image.replaceSubrange(0..<16, with: Self.randomBytes(16))
        let changed = image
        let second = try await Self.blocking { try Self.storePoint(changed, vm: vm, in: store) }
        let after = try await fixture.client.list().filter { $0.key.hasPrefix(".chunks/") }
        #expect(after.count == before.count + 1)
        #expect(Set(before).isSubset(of: Set(after)))
        #expect(try await Self.blocking { try Self.restore(second, from: store) } == changed)
    }

    @Test func verifyFindsChunksDeletedOrOverwrittenInTheBucketAndTheNextWriteStoresThemAgain() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let image = Self.randomBytes(3 * Self.chunkSize)
        let point = try await Self.blocking { try Self.storePoint(image, in: store) }
        let index = try await Self.blocking { try store.readIndex(point, disk: "vda") }
        let (deleted, overwritten, intact) = (index.digests[0], index.digests[1], index.digests[2])
        try await fixture.client.delete(key: fixture.chunkKey(deleted))
        try await fixture.client.put(key: fixture.chunkKey(overwritten), body: Self.randomBytes(1000))

        // The cache still holds good copies: verify must read the bucket, which is what counts.
        let report = try await Self.blocking { try store.verify() }
        #expect(Set(report.badChunks.map(\.digest)) == [deleted, overwritten])
        #expect(report.damagedPoints.map(\.point) == [point])
        #expect(report.badChunks.first { $0.digest == deleted }?.code == .chunkMissing)
        // Both names are out of the way, so the next sync of the VM stores the data again.
        #expect(!store.hasChunk(deleted))
        #expect(!store.hasChunk(overwritten))
        #expect(store.hasChunk(intact))

        let again = try await Self.blocking { try Self.storePoint(image, in: store) }
        #expect(try await Self.blocking { try store.verify(points: [again]) }.badChunks.isEmpty)
        #expect(try await fixture.client.get(key: fixture.chunkKey(overwritten)).count > 1000)
    }

    @Test func garbageCollectionDeletesObjectsOnlyOfChunksItSweptAndFinishesASweepCutShort() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let shared = Self.randomBytes(Self.chunkSize)
        let kept = try await Self.blocking { try Self.storePoint(shared + Self.randomBytes(Self.chunkSize), in: store) }
        let gone = try await Self.blocking { try Self.storePoint(shared + Self.randomBytes(Self.chunkSize), in: store) }
        let goneIndex = try await Self.blocking { try store.readIndex(gone, disk: "vda") }
        let unique = goneIndex.digests[1]
        // A chunk a running sync counts on: unreferenced, but its time was refreshed after the writer started.
        let counted = try await Self.blocking { try store.writeChunk(Self.randomBytes(Self.chunkSize)) }.digest
        try await Self.blocking { try store.deleteRecoveryPoint(gone) }
        #expect(try await fixture.keys().contains("\(gone.vm.uuidString.lowercased())/\(gone.point)/manifest.json") == false)

        let writerStarted = Date().addingTimeInterval(-1)
        // The unique chunk's time is before the writer started; the counted one's after.
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(-3600)], ofItemAtPath: fixture.chunkPath(unique))
        let report = try await Self.blocking {
            try store.collectGarbage(gracePeriod: .zero, now: Date(), writersSince: writerStarted)
        }
        #expect(report.chunksRemoved == 1)
        let keys = try await fixture.keys()
        #expect(!keys.contains(fixture.chunkKey(unique)))
        #expect(!FileManager.default.fileExists(atPath: fixture.chunkPath(unique)))
        #expect(store.hasChunk(counted))
        #expect(try await Self.blocking { try Self.restore(kept, from: store) }.count == 2 * Self.chunkSize)
        #expect(try await Self.blocking { try store.verify() }.badChunks.isEmpty)

        // A sweep cut short after removing a name but before deleting its object: the next one deletes it, and
        // leaves alone a journalled chunk whose name is back (a sync stored it again since).
        let orphan = ChunkDigest.of(Self.randomBytes(64))
        try await fixture.client.put(key: fixture.chunkKey(orphan), body: [1, 2, 3])
        let keptDigest = try await Self.blocking { try store.readIndex(kept, disk: "vda") }.digests[1]
        try Data("\(orphan)\n\(keptDigest)".utf8).write(to: URL(fileURLWithPath: "\(store.root)/.gc-deleting"))
        _ = try await Self.blocking { try store.collectGarbage(gracePeriod: .seconds(3600)) }
        let after = try await fixture.keys()
        #expect(!after.contains(fixture.chunkKey(orphan)))
        #expect(after.contains(fixture.chunkKey(keptDigest)))
        #expect(!FileManager.default.fileExists(atPath: "\(store.root)/.gc-deleting"))
    }

    @Test func aGatewayDownAtCommitLeavesNoPointAndTheNextCommitReusesWhatWasUploaded() async throws {
        let fixture = try await Self.fixture(requestTimeout: .seconds(5))
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let first = Self.randomBytes(2 * Self.chunkSize)
        let earlier = try await Self.blocking { try Self.storePoint(first, in: store) }

        let image = Self.randomBytes(3 * Self.chunkSize)
        try await S3Testbed.shared.stopGateway()
        let failure = await Self.failureToStore(image, in: store)
        try await S3Testbed.shared.startGateway()
        let unavailable = failure as? DatastoreError
        #expect(unavailable?.code == .backendUnavailable, "\(String(describing: failure))")
        #expect(unavailable?.message.contains("bucket") == true)
        // Only the earlier point, in the folder and in the bucket.
        #expect(try store.listRecoveryPoints() == [earlier])
        #expect(try await fixture.keys().filter { $0.hasSuffix("manifest.json") }.count == 1)

        let point = try await Self.blocking { try Self.storePoint(image, in: store) }
        #expect(try await Self.blocking { try Self.restore(point, from: store) } == image)
        #expect(try await Self.blocking { try Self.restore(earlier, from: store) } == first)
    }

    @Test func aHangingGatewayFailsTheCommitWithATimeoutNotAStuckWrite() async throws {
        let fixture = try await Self.fixture(requestTimeout: .seconds(2))
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let image = Self.randomBytes(2 * Self.chunkSize)
        try await S3Testbed.shared.freezeGateway()
        let failure = await Self.failureToStore(image, in: store)
        try await S3Testbed.shared.thawGateway()
        let unavailable = failure as? DatastoreError
        #expect(unavailable?.code == .backendUnavailable, "\(String(describing: failure))")
        #expect((unavailable?.cause as? S3Error)?.code == .timeout, "\(String(describing: failure))")
        #expect(try store.listRecoveryPoints().isEmpty)
    }

    /// A sync's chunk goes to the bucket as soon as it is staged; a sweep cut short that had journalled the same
    /// digest (its old name removed, its object not yet deleted) deletes the object on its replay, and must then
    /// make the staged copy writable again, or the commit would skip it and name a chunk the bucket lacks.
    @Test func aChunkUploadedWhileStagedSurvivesTheReplayOfAnInterruptedSweep() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let bytes = Self.randomBytes(Self.chunkSize)
        let digest = ChunkDigest.of(bytes)
        let file = ChunkFile.encoding(bytes).bytes
        let staged = "\(store.root)/.staging/job1/\(digest)"
        try await Self.blocking {
            try store.stageEncodedChunk(file, digest: digest, job: "job1")
            try store.uploadStagedChunk(file, digest: digest, job: "job1")
        }
        #expect(try await fixture.keys().contains(fixture.chunkKey(digest)))
        #expect(Self.mode(staged) == 0o400)

        try Data("\(digest)".utf8).write(to: URL(fileURLWithPath: "\(store.root)/.gc-deleting"))
        _ = try await Self.blocking { try store.collectGarbage(gracePeriod: .seconds(3600)) }
        #expect(try await fixture.keys().contains(fixture.chunkKey(digest)) == false)
        #expect(Self.mode(staged) == 0o600)

        let point = try await Self.blocking { () throws -> RecoveryPointRef in
            try store.promoteStagedChunks(of: "job1", checking: false)
            var index = try FixedIndex(chunkSize: store.chunkSize, logicalSize: UInt64(bytes.count))
            index[0] = digest
            let manifest = RecoveryPointManifest(
                pointID: .generate(), vmUUID: UUID(), vmName: "web1", createdAt: Date(), domainXML: "<domain/>",
                consistency: .crashConsistent, syncKind: .full, checkpointName: nil, labels: [:])
            try store.writeRecoveryPoint(manifest: manifest, indexes: ["vda": index])
            return RecoveryPointRef(vm: manifest.vmUUID, point: manifest.pointID)
        }
        #expect(try await fixture.keys().contains(fixture.chunkKey(digest)))
        #expect(try await Self.blocking { try store.verify(points: [point]) }.badChunks.isEmpty)
    }

    @Test func catalogCopiesGoToTheBucketAndOldOnesLeaveIt() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let source = fixture.folder.file("snapshot.sqlite")
        try Data("SQLite format 3\0 pretend".utf8).write(to: URL(fileURLWithPath: source))
        let start = Date()
        try await Self.blocking {
            for minute in 0..<4 { try store.storeCatalogCopy(from: source, takenAt: start.addingTimeInterval(Double(minute) * 60)) }
        }
        let copies = try await fixture.keys().filter { $0.hasPrefix(".catalog/") }.sorted()
        #expect(copies == (try store.catalogCopies()).map { ".catalog/\($0.name)" })
        #expect(copies.count == Datastore.catalogCopiesKept)
    }

    /// A server that lost its data directory makes the cache of an S3 datastore from the bucket alone, and
    /// restores from it; keys the datastore did not write are not taken.
    @Test func aCacheRebuiltFromTheBucketRestoresEveryPoint() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let store = fixture.store
        let image = Self.randomBytes(3 * Self.chunkSize + 17)
        let point = try await Self.blocking { try Self.storePoint(image, in: store) }
        try await fixture.client.put(key: "junk/file", body: [1])
        try await fixture.client.put(key: ".chunks/zz/not-a-digest", body: [1])
        try await fixture.client.put(key: "\(point.vm.uuidString.lowercased())/\(point.point)/evil.sh", body: [1])

        let rebuilt = fixture.folder.file("rebuilt")
        let objects = try #require(store.objectStore)
        let copy = try await Self.blocking { try Datastore.rebuildCache(at: rebuilt, from: objects) }
        #expect(copy.configuration == store.configuration)
        #expect(try copy.listRecoveryPoints() == [point])
        #expect(try await Self.blocking { try Self.restore(point, from: copy) } == image)
        #expect(!FileManager.default.fileExists(atPath: "\(rebuilt)/junk"))
        #expect(!FileManager.default.fileExists(atPath: "\(rebuilt)/.chunks/zz"))
        #expect(!FileManager.default.fileExists(atPath: "\(rebuilt)/\(point.vm.uuidString.lowercased())/\(point.point)/evil.sh"))
        // Not into a folder that holds something.
        let taken = await #expect(throws: DatastoreError.self) {
            try await Self.blocking { _ = try Datastore.rebuildCache(at: rebuilt, from: objects) }
        }
        #expect(taken?.code == .notEmpty)
    }

    @Test func aBucketWithADatastoreIsRefusedForANewOne() async throws {
        let fixture = try await Self.fixture()
        defer { Task { await fixture.close() } }
        let error = await #expect(throws: S3Error.self) { try await S3Datastore.checkNew(fixture.client) }
        #expect(error?.message.contains("already holds a datastore") == true)
    }
}
