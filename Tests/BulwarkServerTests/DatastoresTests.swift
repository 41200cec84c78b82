import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// The one owner of the server's datastores: staged chunks of jobs that ended unannounced are kept for their VM's
/// next sync by the sweep, never those of a job still running, and a point is committed only over chunks that are
/// there.
@Suite struct DatastoresTests {
    @Test func theSweepKeepsTheChunksOfEndedJobsOnlyForTheirVM() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let main = try ResourceName("main", field: "datastore")
            let store = try fleet.store
            func job() async throws -> JobID {
                let job = try await catalog.createJob(
                    NewJob(kind: .sync, subject: "vm web1", vmUUID: fleet.web1, datastore: main))
                _ = try await catalog.updateJob(id: job.id, JobUpdate(state: .running))
                return job.id
            }
            let ended = try await job()
            let running = try await job()
            let first = EncodedChunk.encode([UInt8](repeating: 3, count: 5000), chunkSize: store.chunkSize)
            let second = EncodedChunk.encode([UInt8](repeating: 4, count: 5000), chunkSize: store.chunkSize)
            _ = try store.stageEncodedChunk(first.bytes, digest: first.digest, job: ended.description)
            _ = try store.stageEncodedChunk(second.bytes, digest: second.digest, job: running.description)
            // The agent died: the job ended without a finish report, so nothing promoted its chunks.
            _ = try await catalog.updateJob(id: ended, JobUpdate(state: .failed, error: "the agent died"))

            let datastores = Datastores(catalog: catalog, logger: Logger(label: "datastores-test"))
            await datastores.promoteStagedChunksOfEndedJobs()
            #expect(store.hasChunk(first.digest))
            #expect(try store.uploadedChunks(vm: fleet.web1).contains(first.digest))
            #expect(!store.hasChunk(second.digest) && store.hasStagedChunk(second.digest, job: running.description))
            #expect(try store.stagingJobs() == [running.description])
        }
    }

    @Test func aPointIsCommittedOnlyOverChunksThatAreThere() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let store = try fleet.store
            let datastores = Datastores(catalog: catalog, logger: Logger(label: "datastores-test"))
            let job = JobID.generate()
            let staged = EncodedChunk.encode([UInt8](repeating: 5, count: 5000), chunkSize: store.chunkSize)
            _ = try store.stageEncodedChunk(staged.bytes, digest: staged.digest, job: job.description)
            func manifest() -> RecoveryPointManifest {
                RecoveryPointManifest(
                    pointID: .generate(), vmUUID: fleet.web1, vmName: "web1", createdAt: Date(), domainXML: "",
                    consistency: .crashConsistent, syncKind: .full)
            }
            let absent = EncodedChunk.encode([UInt8](repeating: 6, count: 5000), chunkSize: store.chunkSize)
            let refused = manifest()
            let error = await #expect(throws: DatastoreError.self) {
                try await datastores.commitPoint(
                    at: fleet.storePath, job: job, manifest: refused,
                    indexes: ["vda": try FixedIndex(chunkSize: store.chunkSize, logicalSize: 5000, digests: [absent.digest])])
            }
            #expect(error?.code == .chunkMissing)
            #expect(try !store.listRecoveryPoints().contains { $0.point == refused.pointID })

            // The job's staged chunk is promoted by the commit that names it.
            let kept = manifest()
            let written = try await datastores.commitPoint(
                at: fleet.storePath, job: job, manifest: kept,
                indexes: ["vda": try FixedIndex(chunkSize: store.chunkSize, logicalSize: 5000, digests: [staged.digest])])
            #expect(written.pointID == kept.pointID && store.hasChunk(staged.digest))
            let reference = RecoveryPointRef(vm: fleet.web1, point: kept.pointID)
            try await datastores.discardPoint(reference, at: fleet.storePath)
            // Gone already is no error.
            try await datastores.discardPoint(reference, at: fleet.storePath)
            #expect(try !store.listRecoveryPoints().contains(reference))
        }
    }
}
