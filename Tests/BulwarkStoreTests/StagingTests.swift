import BulwarkStore
import Foundation
import Testing

/// Chunks a sync uploads are staged unflushed and become the datastore's chunks only through one batch flush.
@Suite struct StagingTests {
    @Test func aStagedChunkIsOutOfSightUntilPromoted() throws {
        try withDatastore { store, _ in
            let plain = randomBytes(smallChunk)
            let chunk = EncodedChunk.encode(plain, chunkSize: store.chunkSize)
            let result = try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "job-1")
            #expect(result.isNew && result.storedBytes == chunk.bytes.count)
            // Another sync must not build on a chunk a power cut could still take away.
            #expect(!store.hasChunk(chunk.digest))
            #expect(store.hasChunk(chunk.digest, stagedBy: "job-1") && !store.hasChunk(chunk.digest, stagedBy: "job-2"))
            #expect(try !store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "job-1").isNew)
            #expect(try store.stagingJobs() == ["job-1"])

            let report = try store.promoteStagedChunks(of: "job-1", checking: false)
            #expect(report.promoted == 1 && report.dropped == 0)
            #expect(store.hasChunk(chunk.digest))
            #expect(try store.readChunk(chunk.digest) == plain)
            #expect(try store.stagingJobs().isEmpty)
            // Now stored, the chunk is found, not staged again.
            #expect(try !store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "job-3").isNew)
            #expect(try store.stagingJobs().isEmpty)
            #expect(try store.promoteStagedChunks(of: "job-9", checking: false) == StagingReport())
        }
    }

    /// Staged files are written with direct I/O in 4 KiB blocks and a buffered tail: every split reads back whole.
    @Test func stagedFilesOfEverySizeReadBack() throws {
        try withDatastore { store, _ in
            // File sizes are the plain size plus a 16-byte header: no tail, a 1-byte tail, a 4095-byte tail, a
            // file shorter than one block, and a whole chunk.
            var plains: [[UInt8]] = []
            for count in [4080, 4081, 8191 - 16 + 4096, 100, smallChunk] { plains.append(randomBytes(count)) }
            for plain in plains {
                let chunk = EncodedChunk.encode(plain, chunkSize: store.chunkSize)
                try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "sizes")
            }
            #expect(try store.promoteStagedChunks(of: "sizes", checking: true).promoted == plains.count)
            for plain in plains {
                #expect(try store.readChunk(ChunkDigest.of(plain)) == plain)
            }
        }
    }

    @Test func afterACrashOnlyWholeStagedChunksArePromoted() throws {
        try withDatastore { store, _ in
            let good = EncodedChunk.encode(randomBytes(smallChunk), chunkSize: store.chunkSize)
            let torn = EncodedChunk.encode(randomBytes(smallChunk), chunkSize: store.chunkSize)
            let emptied = EncodedChunk.encode(compressibleBytes(smallChunk), chunkSize: store.chunkSize)
            for chunk in [good, torn, emptied] {
                try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "crashed")
            }
            // What a power cut can leave of files never flushed: cut short, or empty; and a writer's temporary file.
            let folder = "\(store.root)/.staging/crashed"
            try Data(torn.bytes.prefix(torn.bytes.count / 2)).write(to: URL(fileURLWithPath: "\(folder)/\(torn.digest)"))
            try Data().write(to: URL(fileURLWithPath: "\(folder)/\(emptied.digest)"))
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: "\(folder)/\(good.digest).tmp-1234"))

            let report = try store.promoteStagedChunks(of: "crashed", checking: true)
            #expect(report.promoted == 1 && report.dropped == 2)
            #expect(store.hasChunk(good.digest) && !store.hasChunk(torn.digest) && !store.hasChunk(emptied.digest))
            #expect(!FileManager.default.fileExists(atPath: folder))
            #expect(try store.verify().isClean)
        }
    }

    @Test func aChunkStoredMeanwhileByAnotherSyncIsKeptOnce() throws {
        try withDatastore { store, _ in
            let plain = randomBytes(smallChunk)
            let chunk = EncodedChunk.encode(plain, chunkSize: store.chunkSize)
            try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: "slow")
            #expect(try store.writeChunk(plain).isNew)
            let report = try store.promoteStagedChunks(of: "slow", checking: false)
            #expect(report.promoted == 0 && report.dropped == 0)
            #expect(try store.readChunk(chunk.digest) == plain)
            #expect(try store.stagingJobs().isEmpty)
        }
    }

    @Test func stagingChecksTheFileAndTheJobName() throws {
        try withDatastore { store, _ in
            let chunk = EncodedChunk.encode(randomBytes(5000), chunkSize: store.chunkSize)
            let mismatch = #expect(throws: DatastoreError.self) {
                try store.stageEncodedChunk(chunk.bytes, digest: ChunkDigest.of([9]), job: "job-1")
            }
            #expect(mismatch?.code == .digestMismatch)
            for name in ["", "../escape", "a/b", ".hidden"] {
                let error = #expect(throws: DatastoreError.self) {
                    try store.stageEncodedChunk(chunk.bytes, digest: chunk.digest, job: name)
                }
                let message = error?.message ?? ""
                #expect(error?.code == .invalidArgument)
                #expect(message.contains("job id"))
            }
            let jobs = try store.stagingJobs()
            #expect(jobs.isEmpty)
        }
    }
}
