import BulwarkAPI
import BulwarkCatalog
import BulwarkClient
import BulwarkCore
import BulwarkStore
import Foundation
import Testing

@testable import BulwarkServer

/// The server's side of recovery: requests checked before a job exists, the restore task claimed by the agent of
/// the host it writes to, only the point's own chunks handed out, and the completion that restarts protection.
@Suite struct RecoveryAPITests {
    private func request(_ fleet: AgentProtocolTests.Fleet, _ body: RecoveryRequest) async -> ClientError? {
        await refusal { let _: JobView = try await fleet.admin.post("/v1/recover", body) }
    }

    @Test func badRequestsAreRefusedBeforeAnyJob() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let id = try await VerificationTests.backUp(fleet)
            let vm = "kvm1/web1"
            let cases: [(RecoveryRequest, String)] = [
                (RecoveryRequest(vm: vm, point: "latest"), "say where the VM goes"),
                (RecoveryRequest(vm: vm, point: "latest", to: "elsewhere"), "the only place is `original`"),
                (RecoveryRequest(vm: vm, point: "latest", to: "original", path: "/srv"), "leave out --path"),
                (RecoveryRequest(vm: vm, point: "latest", to: "original", toHost: "kvm2"), "lives on kvm1"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2"), "--path"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "srv/vms"), "absolute"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/srv/../etc"), "absolute"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/srv", name: "a/b"), "is not a VM name"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/srv", format: "vmdk"), "qcow2 or raw"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/srv", throttle: "fast"), "--throttle"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/srv", notify: "ftp://x"), "--notify"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm2", path: "/" + String(repeating: "d/", count: 2100)), "longer than Linux allows"),
                (RecoveryRequest(vm: vm, point: "latest", toHost: "kvm9", path: "/srv"), "kvm9"),
                (RecoveryRequest(vm: vm, point: "latest", to: "original", shutdownTimeout: 99_999), "--shutdown-timeout"),
            ]
            for (body, fragment) in cases {
                let error = await request(fleet, body)
                #expect(error?.message.contains(fragment) == true, "\(body): \(String(describing: error))")
            }
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).isEmpty, "no refused request left a job")
            // A damaged point is refused by name.
            try await catalog.updateRecoveryPointState(id: id, to: .damaged)
            let damaged = await request(fleet, RecoveryRequest(vm: vm, point: id.description, toHost: "kvm2", path: "/srv"))
            #expect(damaged?.message.contains("damaged") == true, "\(String(describing: damaged))")
        }
    }

    @Test func aNewVMIsRestoredByTheTargetHostsAgentFromThePointsOwnChunks() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let id = try await VerificationTests.backUp(fleet)
            let job: JobView = try await fleet.admin.post(
                "/v1/recover", RecoveryRequest(vm: "kvm1/web1", point: "latest", toHost: "kvm2", path: "/srv/vms", start: true))
            #expect(job.kind == "recovery" && job.state == .queued)
            // The VM's own host does not get it; the target host does.
            #expect(try await fleet.kvm1.nextTask() == nil)
            let task = try #require(try await fleet.kvm2.nextTask())
            let restore = try #require(task.restore)
            #expect(task.command == .restore && restore.pointID == id.description && restore.mode == "alternate")
            #expect(restore.folder == "/srv/vms" && restore.name == "web1-restored" && restore.format == "qcow2" && restore.start)
            #expect(restore.disks.map(\.target) == ["vda", "vdb"] && restore.domainXML.contains("web1"))
            #expect(restore.disks[0].dataBytes == 4 * UInt64(AgentProtocolTests.chunkSize) + 1000)

            let index = try await fleet.kvm2.send(.GET, "/v1/agent/tasks/\(task.id)/point/vda")
            #expect(index.status == 200)
            let decoded = try FixedIndex(decoding: index.body, source: "test")
            #expect(decoded == fleet.vda.index)
            let chunk = try #require(fleet.vda.dataChunks.first)
            let file = try await fleet.kvm2.send(.GET, "/v1/agent/tasks/\(task.id)/chunks/\(chunk.digest)")
            #expect(file.status == 200)
            let plain = try EncodedChunk.decode(file.body, digest: chunk.digest, chunkSize: AgentProtocolTests.chunkSize)
            #expect(Array(plain) == Array(fleet.vda.image.prefix(AgentProtocolTests.chunkSize)))
            // A chunk the point does not name is not handed out, nor are another host's tasks.
            let other = ChunkDigest.of([1, 2, 3])
            #expect(try await fleet.kvm2.send(.GET, "/v1/agent/tasks/\(task.id)/chunks/\(other)").status == 404)
            #expect(try await fleet.kvm1.send(.GET, "/v1/agent/tasks/\(task.id)/chunks/\(chunk.digest)").status == 404)
            // A restore ends with a completion, not a commit.
            let commit = try await fleet.kvm2.send(
                .POST, "/v1/agent/tasks/\(task.id)/commit", json: AgentProtocolTests.commit([fleet.vda], checkpoint: nil))
            #expect(commit.status == 409 || commit.status == 400, "\(commit.message)")
            let done = try await fleet.kvm2.send(
                .POST, "/v1/agent/tasks/\(task.id)/complete", json: AgentTaskComplete(summary: "defined VM web1-restored", bytesReceived: 4096))
            #expect(done.status == 204, "\(done.message)")
            let ended: JobView = try await fleet.admin.get("/v1/jobs/\(task.id)")
            #expect(ended.state == .succeeded && ended.log?.contains { $0.message == "defined VM web1-restored" } == true)
        }
    }

    @Test func aRestoreInPlaceRestartsProtectionWithACheck() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            _ = try await VerificationTests.backUp(fleet)
            let job: JobView = try await fleet.admin.post(
                "/v1/recover", RecoveryRequest(vm: "kvm1/web1", point: "latest", to: "original", shutdownTimeout: 5))
            // One job per VM: a sync asked for meanwhile is refused, naming the recovery.
            let busy = await refusal { let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1")) }
            #expect(busy?.message.contains(job.id) == true, "\(String(describing: busy))")
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.restore?.mode == "original" && task.restore?.shutdownTimeout == 5)
            let done = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/complete", json: AgentTaskComplete(summary: "wrote it back", bytesReceived: 0))
            #expect(done.status == 204, "\(done.message)")
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            #expect(try await catalog.checkpoints(vm: fleet.web1).allSatisfy { $0.state == .invalid })
            let next = try #require(try await fleet.kvm1.nextTask())
            #expect(next.command == .consistencyCheck && next.base?.checkpoint == nil)
        }
    }

    @Test func aRestoreFailedBecauseItsAgentRestartedIsStillPosted() async throws {
        try await Webhook<JobView>.with { url, hook in
            try await AgentProtocolTests.withFleet { fleet in
                _ = try await VerificationTests.backUp(fleet)
                let job: JobView = try await fleet.admin.post(
                    "/v1/recover",
                    RecoveryRequest(vm: "kvm1/web1", point: "latest", toHost: "kvm2", path: "/srv/vms", notify: url.absoluteString))
                let task = try #require(try await fleet.kvm2.nextTask())
                // The agent reads the point (so the claim reached it), then polls again without the task, as an agent
                // that restarted does: no completion or finish report will ever come.
                #expect(try await fleet.kvm2.send(.GET, "/v1/agent/tasks/\(task.id)/point/vda").status == 200)
                _ = try await fleet.kvm2.nextTask()
                let failed: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
                #expect(failed.state == .failed)
                let posted = try await hook.received()
                #expect(posted.map(\.id) == [job.id] && posted.first?.state == .failed, "\(posted)")
            }
        }
    }
}
