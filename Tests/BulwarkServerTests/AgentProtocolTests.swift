import BulwarkAPI
import BulwarkCatalog
import BulwarkClient
import BulwarkCore
import BulwarkServer
import BulwarkStore
import Foundation
import TestSupport
import Testing

/// The agent protocol end to end against a real server: a fake agent with an enrolled certificate syncs synthetic
/// disks through every call, and every wrong call is refused without leaving a point behind.
@Suite struct AgentProtocolTests {
    static let chunkSize = 64 << 10

    /// A server with agents kvm1 (VM web1: disks vda and vdb, in group gold on datastore main) and kvm2 (VM app1,
    /// unprotected).
    struct Fleet {
        var admin: BulwarkAPIClient
        var directory: ServerDataDirectory
        var kvm1: FakeAgent
        var kvm2: FakeAgent
        var web1: UUID
        var storePath: String
        var vda: SyntheticDisk
        var vdb: SyntheticDisk

        var store: Datastore { get throws { try Datastore.open(at: storePath) } }
    }

    /// `vda` replaces the synthetic first disk's image (a multiple of the chunk size); `configure` changes the
    /// server's configuration.
    static func withFleet(
        vda: [UInt8]? = nil, configure: (inout ServerConfiguration) -> Void = { _ in }, _ body: (Fleet) async throws -> Void
    ) async throws {
        let folder = try TemporaryDirectory("agent-protocol")
        defer { folder.cleanUp() }
        try await withServer(configure: configure) { admin, directory in
            try await setUp(admin: admin, directory: directory, storePath: folder.file("main"), vda: vda, body)
        }
    }

    static func setUp(
        admin: BulwarkAPIClient, directory: ServerDataDirectory, storePath: String, vda: [UInt8]? = nil,
        _ body: (Fleet) async throws -> Void
    ) async throws {
        let kvm1 = try await FakeAgent.enroll("kvm1", admin: admin, directory: directory)
        let kvm2 = try await FakeAgent.enroll("kvm2", admin: admin, directory: directory)
        do {
            try await setUp(
                admin: admin, directory: directory, storePath: storePath, vda: vda, kvm1: kvm1, kvm2: kvm2, body)
        } catch {
            await kvm1.shutdown()
            await kvm2.shutdown()
            throw error
        }
        await kvm1.shutdown()
        await kvm2.shutdown()
    }

    private static func setUp(
        admin: BulwarkAPIClient, directory: ServerDataDirectory, storePath: String, vda image: [UInt8]?,
        kvm1: FakeAgent, kvm2: FakeAgent, _ body: (Fleet) async throws -> Void
    ) async throws {
        // vda: five blocks, one of them zeros, and a short tail; vdb: two blocks, the same data twice (dedup).
        let vda = try SyntheticDisk(
            target: "vda", image: image ?? SyntheticDisk.image(blocks: 5, chunkSize: chunkSize, tail: 1000, zeroBlock: 2),
            chunkSize: chunkSize)
        let block = SyntheticDisk.image(blocks: 1, chunkSize: chunkSize, seed: 7)
        let vdb = try SyntheticDisk(target: "vdb", image: block + block, chunkSize: chunkSize)
        let web1 = UUID()
        let inventory = try await kvm1.reportInventory([
            AgentInventoryReport.VM(
                uuid: web1, name: "web1", state: "running", guestAgentAnswering: true,
                disks: [vda, vdb].map {
                    VMView.Disk(target: $0.target, format: "qcow2", capacityBytes: Int64($0.image.count), path: "/img/\($0.target)")
                })
        ])
        #expect(inventory == AgentInventoryResult(added: 1, updated: 0, removed: 0))
        _ = try await kvm2.reportInventory([
            AgentInventoryReport.VM(uuid: UUID(), name: "app1", state: "shut-off", guestAgentAnswering: false, disks: [])
        ])
        let _: DatastoreView = try await admin.post(
            "/v1/datastores", DatastoreCreateRequest(name: "main", path: storePath, chunkSize: "64K"))
        let _: GroupView = try await admin.post(
            "/v1/groups", GroupCreateRequest(
                name: "gold", datastore: "main", policy: .init(retentionDays: "10", replicaCreation: "manual")))
        let _: GroupView = try await admin.post("/v1/groups/gold/members", GroupMembersRequest(vms: ["kvm1/web1"]))
        try await body(
            Fleet(
                admin: admin, directory: directory, kvm1: kvm1, kvm2: kvm2, web1: web1, storePath: storePath, vda: vda,
                vdb: vdb))
    }

    /// Uploads what the datastore lacks of `disks` and returns the bytes sent.
    static func upload(_ disks: [SyntheticDisk], task: String, as agent: FakeAgent) async throws -> (Int64, [String]) {
        let digests = disks.flatMap(\.chunks).map(\.digest.description)
        let missing = try await agent.send(.POST, "/v1/agent/tasks/\(task)/chunks/query", json: ChunkQuery(digests: digests))
            .decode(ChunkQueryResult.self).missing
        var sent: Int64 = 0
        for digest in missing {
            let chunk = try #require(disks.flatMap(\.chunks).first { $0.digest.description == digest })
            let answer = try await agent.send(.PUT, "/v1/agent/tasks/\(task)/chunks/\(digest)", bytes: chunk.bytes)
            #expect(answer.status == 201, "\(answer.message)")
            sent += Int64(chunk.bytes.count)
        }
        return (sent, missing)
    }

    /// web1's definition as its agent commits it: the disks every test syncs.
    static let webXML = """
        <domain type='kvm'><name>web1</name><devices>
        <disk type='file' device='disk'><source file='/vm/web1-vda.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='file' device='disk'><source file='/vm/web1-vdb.qcow2'/><target dev='vdb' bus='virtio'/></disk>
        </devices></domain>
        """

    static func commit(
        _ disks: [SyntheticDisk], kind: SyncKind = .full, checkpoint: String?, sent: Int64 = 0
    ) -> AgentCommit {
        AgentCommit(
            syncKind: kind, consistency: .applicationConsistent, domainXML: webXML,
            disks: disks.map { AgentCommit.Disk(target: $0.target, index: Data($0.index.encoded())) },
            checkpoint: checkpoint.map { AgentTask.CheckpointRecord(name: $0, host: "claimed-elsewhere", xml: "<domaincheckpoint><name>\($0)</name></domaincheckpoint>") },
            transferredBytes: sent)
    }

    @Test func aSyncRunsFromBackupRequestToCommittedPointAndTheNextBuildsOnIt() async throws {
        try await Self.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            #expect(job.state == .queued && job.kind == "sync" && job.vm == fleet.web1 && job.subject == "kvm1/web1")

            #expect(try await fleet.kvm2.nextTask() == nil, "kvm2 does not run kvm1's VMs")
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.id == job.id && task.command == .sync && task.vmUUID == fleet.web1 && task.vmName == "web1")
            #expect(task.chunkSize == Self.chunkSize && task.base == nil && task.quiesce == .auto && !task.expressFull)
            #expect(try await fleet.kvm1.nextTask(running: [task.id]) == nil)

            let control = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/status",
                json: AgentTaskStatus(
                    phase: .transfer, progress: JobProgress(bytesTotal: 400, bytesScanned: 100, bytesSent: 0),
                    log: [.init(time: Date(), level: "info", message: "reading vda")])
            ).decode(AgentTaskControl.self)
            #expect(!control.cancelRequested)
            let running: JobView = try await fleet.admin.get("/v1/jobs/\(task.id)")
            #expect(running.state == .running && running.phase == .transfer && running.progress == 0.25)
            #expect(running.bytes == JobProgress(bytesTotal: 400, bytesScanned: 100, bytesSent: 0))
            #expect(running.log?.contains { $0.message == "reading vda" } == true)

            let (sent, missing) = try await Self.upload([fleet.vda, fleet.vdb], task: task.id, as: fleet.kvm1)
            // Zeros are never asked for and the twice-used block of vdb once.
            #expect(missing.count == 4 + 1 + 1)
            let result = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/commit",
                json: Self.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1", sent: sent)
            ).decode(AgentCommitResult.self)

            let points: [RecoveryPointView] = try await fleet.admin.get("/v1/points?vm=kvm1/web1")
            let point = try #require(points.first)
            #expect(points.count == 1 && point.id == result.pointID && point.syncKind == .full)
            #expect(point.consistency == .applicationConsistent && point.group == "gold" && point.datastore == "main")
            #expect(point.logicalBytes == Int64(fleet.vda.image.count + fleet.vdb.image.count))
            #expect(point.storedBytes == sent && point.transferredBytes == sent)
            #expect(point.retainUntil.timeIntervalSince(point.createdAt) > 9.9 * 86_400)
            let done: JobView = try await fleet.admin.get("/v1/jobs/\(task.id)")
            #expect(done.state == .succeeded && done.recoveryPoint == result.pointID && done.progress == 1)
            #expect(done.log?.contains { $0.message.hasPrefix("committed recovery point \(result.pointID)") } == true)

            // The datastore holds the point as the agent described it, and it restores the synthetic bytes.
            let store = try fleet.store
            let reference = RecoveryPointRef(vm: fleet.web1, point: try RecoveryPointID(parsing: result.pointID))
            let manifest = try store.readManifest(reference)
            #expect(manifest.labels["group"] == "gold" && manifest.labels["job"] == task.id)
            #expect(manifest.checkpointName == "bulwark-1" && manifest.syncKind == .full && manifest.vmName == "web1")
            for disk in [fleet.vda, fleet.vdb] {
                let index = try store.readIndex(reference, disk: disk.target)
                #expect(index == disk.index)
                #expect(try index.digests.flatMap { try store.readChunk($0) }.prefix(disk.image.count) == disk.image[...])
            }

            // The next sync gets the point as its base, with the checkpoint the catalog recorded for it.
            let second: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: fleet.web1.uuidString))
            let next = try #require(try await fleet.kvm1.nextTask(running: []))
            #expect(next.id == second.id)
            let base = try #require(next.base)
            #expect(base.pointID == result.pointID)
            #expect(base.disks == [
                AgentTask.BaseDisk(target: "vda", logicalSize: UInt64(fleet.vda.image.count)),
                AgentTask.BaseDisk(target: "vdb", logicalSize: UInt64(fleet.vdb.image.count)),
            ])
            #expect(base.checkpoint?.name == "bulwark-1" && base.checkpoint?.host == "kvm1")
            #expect(base.checkpoint?.xml.contains("bulwark-1") == true)
            let index = try await fleet.kvm1.send(.GET, "/v1/agent/tasks/\(next.id)/base/vda")
            #expect(index.status == 200 && index.body == fleet.vda.index.encoded())
            let noDisk = try await fleet.kvm1.send(.GET, "/v1/agent/tasks/\(next.id)/base/vdz")
            #expect(noDisk.status == 404 && noDisk.message.contains("vdz"))

            // One changed block: one chunk to send; the rest is carried over from the base index.
            var image = fleet.vda.image
            image[Self.chunkSize + 5] ^= 0xff
            let changed = try SyntheticDisk(target: "vda", image: image, chunkSize: Self.chunkSize)
            let (sentAgain, missingAgain) = try await Self.upload([changed, fleet.vdb], task: next.id, as: fleet.kvm1)
            #expect(missingAgain == [changed.chunks[1].digest.description])
            let incremental = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(next.id)/commit",
                json: Self.commit([changed, fleet.vdb], kind: .incremental, checkpoint: "bulwark-2", sent: sentAgain)
            ).decode(AgentCommitResult.self)
            let after: [RecoveryPointView] = try await fleet.admin.get("/v1/points?vm=kvm1/web1")
            #expect(after.map(\.id) == [incremental.pointID, result.pointID])
            #expect(after.first?.syncKind == .incremental && after.first?.storedBytes == sentAgain)
        }
    }

    @Test func aWaitingPollGetsATaskQueuedWhileItWaits() async throws {
        try await Self.withFleet { fleet in
            async let polled = fleet.kvm1.nextTask(wait: 20)
            try await Task.sleep(for: .milliseconds(500))
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "web1", expressFull: true))
            let task = try await polled
            #expect(task?.id == job.id && task?.expressFull == true && job.kind == "express-full")
            let empty = try await fleet.kvm1.send(.GET, "/v1/agent/tasks/next?wait=1&running=\(job.id)")
            #expect(empty.status == 204)
        }
    }

    @Test func badUploadsAndCommitsAreRefusedAndLeaveNoPoint() async throws {
        try await Self.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            _ = try #require(try await fleet.kvm1.nextTask())
            let tasks = "/v1/agent/tasks/\(job.id)"
            let first = fleet.vda.chunks[0]
            let second = fleet.vda.chunks[1]

            let wrongDigest = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(first.digest)", bytes: second.bytes)
            #expect(wrongDigest.status == 400 && wrongDigest.message.contains("another SHA-256"))
            var damaged = first.bytes
            damaged[damaged.count / 2] ^= 0x01
            let corrupt = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(first.digest)", bytes: damaged)
            #expect(corrupt.status == 400 && corrupt.message.contains("damaged"))
            let huge = try await fleet.kvm1.send(
                .PUT, "\(tasks)/chunks/\(first.digest)", bytes: [UInt8](repeating: 1, count: Self.chunkSize + 17))
            #expect(huge.status == 413 && huge.message.contains("\(Self.chunkSize + 16)"))
            let badName = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/xyz", bytes: first.bytes)
            #expect(badName.status == 400 && badName.message.contains("64 hex digits"))
            #expect(try !fleet.store.hasChunk(first.digest))

            let tooMany = try await fleet.kvm1.send(
                .POST, "\(tasks)/chunks/query", json: ChunkQuery(digests: Array(repeating: first.digest.description, count: 4097)))
            #expect(tooMany.status == 400 && tooMany.message.contains("at most 4096"))
            let notHex = try await fleet.kvm1.send(.POST, "\(tasks)/chunks/query", json: ChunkQuery(digests: ["abc"]))
            #expect(notHex.status == 400)

            // Everything but one chunk of vda is uploaded: the commit names the missing one and records nothing.
            for chunk in fleet.vda.dataChunks.dropFirst() + fleet.vdb.dataChunks {
                let answer = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(chunk.digest)", bytes: chunk.bytes)
                #expect(answer.status == 201)
            }
            let again = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(second.digest)", bytes: second.bytes)
            #expect(again.status == 201, "the answer does not tell that the datastore had the chunk")
            let incomplete = try await fleet.kvm1.send(
                .POST, "\(tasks)/commit", json: Self.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1"))
            // A missing chunk is a failure that may pass (garbage collection or a verify took it): 409, code
            // chunk-missing, which the agent reports as transient so the sync is tried again.
            #expect(incomplete.status == 409 && incomplete.message.contains(first.digest.description))
            #expect(incomplete.code == AgentCommitResult.chunkMissingCode)
            let points: [RecoveryPointView] = try await fleet.admin.get("/v1/points?vm=kvm1/web1")
            #expect(points.isEmpty)
            #expect(try fleet.store.listRecoveryPoints(vm: fleet.web1).isEmpty)

            var twice = Self.commit([fleet.vda, fleet.vda], checkpoint: nil)
            let duplicate = try await fleet.kvm1.send(.POST, "\(tasks)/commit", json: twice)
            #expect(duplicate.status == 400 && duplicate.message.contains("twice"))
            twice.disks = [AgentCommit.Disk(target: "../vda", index: Data(fleet.vda.index.encoded()))]
            let badTarget = try await fleet.kvm1.send(.POST, "\(tasks)/commit", json: twice)
            #expect(badTarget.status == 400 && badTarget.message.contains("not valid"))
            twice.disks = [AgentCommit.Disk(target: "vda", index: Data([1, 2, 3]))]
            let badIndex = try await fleet.kvm1.send(.POST, "\(tasks)/commit", json: twice)
            #expect(badIndex.status == 400)
            let otherSize = try FixedIndex(chunkSize: 128 << 10, logicalSize: 1 << 20)
            twice.disks = [AgentCommit.Disk(target: "vda", index: Data(otherSize.encoded()))]
            let badChunkSize = try await fleet.kvm1.send(.POST, "\(tasks)/commit", json: twice)
            #expect(badChunkSize.status == 400 && badChunkSize.message.contains("131072-byte chunks"))
            let notJSON = try await fleet.kvm1.send(.POST, "\(tasks)/commit", bytes: Array("{".utf8), contentType: "application/json")
            #expect(notJSON.status == 400)
            // Domain XML that cannot be web1's definition: refused, naming the VM and what is wrong.
            var foreign = Self.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1")
            for (xml, says) in [
                ("<domain><name>db1</name></domain>", "names VM 'db1', not web1"),
                (Self.webXML.replacingOccurrences(of: "vdb", with: "vdz"), "no disk vdb"),
                ("<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" + Self.webXML, "document type declaration"),
                ("<domain><name>web1</name>", "not well-formed"),
            ] {
                foreign.domainXML = xml
                let refused = try await fleet.kvm1.send(.POST, "\(tasks)/commit", json: foreign)
                #expect(refused.status == 400 && refused.message.contains("VM web1") && refused.message.contains(says), "\(refused.message)")
            }

            // With the last chunk the same commit goes through: the task was never spoiled by the refusals.
            _ = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(first.digest)", bytes: first.bytes)
            let committed = try await fleet.kvm1.send(
                .POST, "\(tasks)/commit", json: Self.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1"))
            #expect(committed.status == 200, "\(committed.message)")
            let late = try await fleet.kvm1.send(.PUT, "\(tasks)/chunks/\(first.digest)", bytes: first.bytes)
            #expect(late.status == 409 && late.message.contains("succeeded"))
        }
    }

    @Test func onlyTheTasksHostWithItsCertificateReachesTheTask() async throws {
        try await Self.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let tasks = "/v1/agent/tasks/\(job.id)"
            // Not claimed yet: no task for anyone.
            let unclaimed = try await fleet.kvm1.send(.POST, "\(tasks)/status", json: AgentTaskStatus())
            #expect(unclaimed.status == 404)
            _ = try #require(try await fleet.kvm1.nextTask())

            let chunk = fleet.vda.chunks[0]
            for answer in [
                try await fleet.kvm2.send(.GET, "\(tasks)/base/vda"),
                try await fleet.kvm2.send(.POST, "\(tasks)/status", json: AgentTaskStatus()),
                try await fleet.kvm2.send(.POST, "\(tasks)/chunks/query", json: ChunkQuery(digests: [])),
                try await fleet.kvm2.send(.PUT, "\(tasks)/chunks/\(chunk.digest)", bytes: chunk.bytes),
                try await fleet.kvm2.send(.POST, "\(tasks)/commit", json: Self.commit([fleet.vda], checkpoint: nil)),
                try await fleet.kvm2.send(.POST, "\(tasks)/finish", json: AgentTaskFinish(state: .failed, error: "mine")),
            ] {
                #expect(answer.status == 404 && answer.message.contains("no task \(job.id) for host kvm2"), "\(answer.message)")
            }
            #expect(try await fleet.kvm2.nextTask(running: [job.id]) == nil)
            let still: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
            #expect(still.state == .running, "kvm2's calls changed nothing")
            #expect(try !fleet.store.hasChunk(chunk.digest))

            let noSuchTask = try await fleet.kvm1.send(.POST, "/v1/agent/tasks/\(JobID.generate())/status", json: AgentTaskStatus())
            #expect(noSuchTask.status == 404)
            let badID = try await fleet.kvm1.send(.POST, "/v1/agent/tasks/nope/status", json: AgentTaskStatus())
            #expect(badID.status == 400)
            let noBase = try await fleet.kvm1.send(.GET, "\(tasks)/base/vda")
            #expect(noBase.status == 404 && noBase.message.contains("no base point"))

            // No certificate, with or without the admin token: 401, pointing at enrollment.
            let anonymous = try FakeAgent.anonymous(admin: fleet.admin, directory: fleet.directory)
            let token = [("Authorization", "Bearer \(fleet.admin.configuration.token)")]
            for answer in [
                try await anonymous.send(.GET, "/v1/agent/tasks/next?wait=0"),
                try await anonymous.send(.GET, "/v1/agent/tasks/next?wait=0", headers: token),
                try await anonymous.send(.POST, "\(tasks)/status", json: AgentTaskStatus(), headers: token),
                try await anonymous.send(.POST, "/v1/agent/inventory", json: AgentInventoryReport(vms: []), headers: token),
            ] {
                #expect(answer.status == 401 && answer.message.contains("bulwark-agent enroll"), "\(answer.message)")
            }
            await anonymous.shutdown()
            // And an agent's certificate opens no admin route.
            let adminRoute = try await fleet.kvm1.send(.GET, "/v1/status")
            #expect(adminRoute.status == 401)
            let cancel = try await fleet.kvm1.send(.POST, "/v1/jobs/\(job.id)/cancel")
            #expect(cancel.status == 401)
        }
    }

    @Test func aHostClaimingAnotherHostsVMGetsNeitherItsSyncsNorItsRestores() async throws {
        try await Self.withFleet { fleet in
            // kvm2 reports web1's UUID as its own.
            _ = try await fleet.kvm2.reportInventory([
                AgentInventoryReport.VM(
                    uuid: fleet.web1, name: "web1", state: "running", guestAgentAnswering: true,
                    disks: [VMView.Disk(target: "vda", format: "qcow2", capacityBytes: 1 << 20, path: "/evil/vda")])
            ])
            let vms: [VMView] = try await fleet.admin.get("/v1/vms")
            let web1 = try #require(vms.first { $0.uuid == fleet.web1 })
            #expect(web1.host == "kvm1" && web1.disks.first?.path == "/img/vda", "the VM did not move")
            let alerts: [AlertView] = try await fleet.admin.get("/v1/alerts")
            #expect(alerts.contains { $0.kind == "vm-claim-conflict" && $0.message.contains("'kvm2'") }, "\(alerts)")

            // Its syncs and its in-place restores go to kvm1 only.
            let id = try await VerificationTests.backUp(fleet)
            let restore: JobView = try await fleet.admin.post(
                "/v1/recover", RecoveryRequest(vm: fleet.web1.uuidString, point: id.description, to: "original"))
            #expect(try await fleet.kvm2.nextTask() == nil, "a claimant never gets the VM's restore")
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.id == restore.id)
            let chunk = try #require(fleet.vda.dataChunks.first)
            let stolen = try await fleet.kvm2.send(.GET, "/v1/agent/tasks/\(task.id)/chunks/\(chunk.digest)")
            #expect(stolen.status == 404)

            // A VM with a job running does not move; once it ends, an admin confirms the move to kvm2.
            let busy = await #expect(throws: ClientError.self) {
                let _: VMView = try await fleet.admin.post("/v1/vms/move", VMMoveRequest(vm: "kvm1/web1", toHost: "kvm2"))
            }
            #expect(busy?.message.contains(restore.id) == true, "\(String(describing: busy))")
            let completed = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/complete", json: AgentTaskComplete(summary: "done", bytesReceived: 0))
            #expect(completed.status == 204, "\(completed.message)")
            // The in-place restore queued a consistency check: cancel it, so the VM is free.
            let jobs: [JobView] = try await fleet.admin.get("/v1/jobs?running=true")
            for job in jobs { let _: JobView = try await fleet.admin.post("/v1/jobs/\(job.id)/cancel", [String: String]()) }
            let refused = await #expect(throws: ClientError.self) {
                let _: VMView = try await fleet.admin.post("/v1/vms/move", VMMoveRequest(vm: "kvm1/web1", toHost: "kvm9"))
            }
            #expect(refused?.code == .notFound)
            let moved: VMView = try await fleet.admin.post("/v1/vms/move", VMMoveRequest(vm: "kvm1/web1", toHost: "kvm2"))
            #expect(moved.host == "kvm2")
            let resolved: [AlertView] = try await fleet.admin.get("/v1/alerts")
            #expect(!resolved.contains { $0.kind == "vm-claim-conflict" })
        }
    }

    /// Garbage collection racing a sync: the chunks a running sync counted on (its query's hits) stay, however
    /// short the grace period, because the sweep's cut-off is the start of the oldest running writer; a chunk that
    /// goes anyway fails the commit as a failure that may pass, and the sync is queued again.
    @Test func garbageCollectionNeverFailsASyncItRaced() async throws {
        try await Self.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let main = try ResourceName("main", field: "datastore")
            let base = try await VerificationTests.backUp(fleet)
            let store = try fleet.store
            func unreferenceBase() async throws {
                // The base's files go behind the sync's back (a hand in the datastore, a delete that raced it):
                // from now on, nothing but the running sync needs its chunks.
                try store.deleteRecoveryPoint(RecoveryPointRef(vm: fleet.web1, point: base))
            }

            let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.base?.pointID == base.description)
            let (_, missing) = try await Self.upload([fleet.vda, fleet.vdb], task: task.id, as: fleet.kvm1)
            #expect(missing.isEmpty, "every chunk is the base's: nothing to send")
            try await unreferenceBase()
            let writers = try #require(try await catalog.oldestRunningWriter(datastore: main))
            // A sweep with no grace at all, that respects the running writer, keeps what the sync counts on.
            let report = try store.collectGarbage(gracePeriod: .zero, now: Date(), writersSince: writers)
            #expect(report.chunksRemoved == 0, "\(report)")
            let committed = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/commit",
                json: Self.commit([fleet.vda, fleet.vdb], kind: .incremental, checkpoint: "bulwark-2"))
            #expect(committed.status == 200, "\(committed.message)")

            // Without the writer's start as the cut-off, the same sweep takes the chunks under a sync: its commit
            // is refused as chunk-missing, the agent reports a failure that may pass, and a retry is queued.
            let newest = try RecoveryPointID(parsing: try committed.decode(AgentCommitResult.self).pointID)
            let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let next = try #require(try await fleet.kvm1.nextTask())
            _ = try await Self.upload([fleet.vda, fleet.vdb], task: next.id, as: fleet.kvm1)
            try store.deleteRecoveryPoint(RecoveryPointRef(vm: fleet.web1, point: newest))
            let swept = try store.collectGarbage(gracePeriod: .zero, now: Date().addingTimeInterval(1))
            #expect(swept.chunksRemoved > 0)
            let refused = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(next.id)/commit",
                json: Self.commit([fleet.vda, fleet.vdb], kind: .incremental, checkpoint: "bulwark-3"))
            #expect(refused.status == 409 && refused.code == AgentCommitResult.chunkMissingCode, "\(refused.message)")
            let finished = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(next.id)/finish",
                json: AgentTaskFinish(state: .failed, error: refused.message, transient: true))
            #expect(finished.status == 204)
            let failed = try await catalog.job(id: try JobID(parsing: next.id)).job
            #expect(failed.state == .failed && failed.error?.contains("tried again") == true, "\(failed)")
            #expect(try await catalog.recoveryPoints(vm: fleet.web1).map(\.id) == [newest, base], "no point was recorded")
        }
    }

    @Test func pollsAndReportsWithBadValuesAreRefused() async throws {
        try await Self.withFleet { fleet in
            for query in ["wait=61", "wait=-1", "wait=soon", "running=not-an-id"] {
                let answer = try await fleet.kvm1.send(.GET, "/v1/agent/tasks/next?\(query)")
                #expect(answer.status == 400, "\(query): \(answer.status) \(answer.message)")
            }
            let badState = try await fleet.kvm1.send(
                .POST, "/v1/agent/inventory",
                json: AgentInventoryReport(vms: [
                    .init(uuid: UUID(), name: "x", state: "flying", guestAgentAnswering: false, disks: [])
                ]))
            #expect(badState.status == 400 && badState.message.contains("flying"))
            let missing = try await fleet.kvm1.send(
                .POST, "/v1/agent/inventory",
                json: AgentInventoryReport(vms: [
                    .init(uuid: UUID(), name: "x", state: "missing", guestAgentAnswering: false, disks: [])
                ]))
            #expect(missing.status == 400)
            let notJSON = try await fleet.kvm1.send(.POST, "/v1/agent/inventory", bytes: [0xff], contentType: "application/json")
            #expect(notJSON.status == 400)

            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            _ = try await fleet.kvm1.nextTask()
            let badLevel = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(job.id)/status",
                json: AgentTaskStatus(log: [.init(time: Date(), level: "loud", message: "x")]))
            #expect(badLevel.status == 400 && badLevel.message.contains("loud"))
            let negative = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(job.id)/status",
                json: AgentTaskStatus(progress: JobProgress(bytesTotal: 1, bytesScanned: -1, bytesSent: 0)))
            #expect(negative.status == 400)
            let succeed = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(job.id)/finish", json: AgentTaskFinish(state: .succeeded, error: nil))
            #expect(succeed.status == 400 && succeed.message.contains("commit"))
            let failed = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(job.id)/finish", json: AgentTaskFinish(state: .failed, error: "disk vanished"))
            #expect(failed.status == 204)
            let view: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
            #expect(view.state == .failed && view.error == "disk vanished")
            #expect(view.log?.last?.message == "failed: disk vanished")
        }
    }

    @Test func oneActiveJobPerVMAndCancellingQueuedAndRunningJobs() async throws {
        try await Self.withFleet { fleet in
            let queued: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let busy = await #expect(throws: ClientError.self) {
                let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            }
            #expect(busy?.code == .rejected && busy?.message.contains(queued.id) == true)
            let unprotected = await #expect(throws: ClientError.self) {
                let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm2/app1"))
            }
            #expect(unprotected?.message.contains("no protection group") == true)
            let unknown = await #expect(throws: ClientError.self) {
                let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/nope"))
            }
            #expect(unknown?.code == .notFound)

            let cancelled: JobView = try await fleet.admin.post("/v1/jobs/\(queued.id)/cancel", [String: String]())
            #expect(cancelled.state == .cancelled)
            #expect(try await fleet.kvm1.nextTask() == nil, "a cancelled job is never handed out")
            let twice = await #expect(throws: ClientError.self) {
                let _: JobView = try await fleet.admin.post("/v1/jobs/\(queued.id)/cancel", [String: String]())
            }
            #expect(twice?.code == .rejected && twice?.message.contains("already ended") == true)

            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let task = try #require(try await fleet.kvm1.nextTask())
            let asked: JobView = try await fleet.admin.post("/v1/jobs/\(job.id)/cancel", [String: String]())
            #expect(asked.state == .running)
            let control = try await fleet.kvm1.send(.POST, "/v1/agent/tasks/\(task.id)/status", json: AgentTaskStatus())
                .decode(AgentTaskControl.self)
            #expect(control.cancelRequested)
            _ = try await Self.upload([fleet.vda, fleet.vdb], task: task.id, as: fleet.kvm1)
            let refused = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/commit", json: Self.commit([fleet.vda, fleet.vdb], checkpoint: "c1"))
            // Its own code, which the agent reads as "finish as cancelled".
            #expect(refused.status == 409 && refused.code == "cancelled" && refused.message.contains("cancelled"))
            let finished = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/finish", json: AgentTaskFinish(state: .cancelled, error: "stopped"))
            #expect(finished.status == 204)
            // The finish ends the task for the per-chunk calls too, which were answered from a cache a moment ago.
            let chunk = fleet.vda.chunks[0]
            let late = try await fleet.kvm1.send(.PUT, "/v1/agent/tasks/\(task.id)/chunks/\(chunk.digest)", bytes: chunk.bytes)
            #expect(late.status == 409, "\(late.message)")
            let view: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
            #expect(view.state == .cancelled && view.recoveryPoint == nil)
            let points: [RecoveryPointView] = try await fleet.admin.get("/v1/points?vm=kvm1/web1")
            #expect(points.isEmpty)
            #expect(try fleet.store.listRecoveryPoints(vm: fleet.web1).isEmpty)
            let badID = await #expect(throws: ClientError.self) {
                let _: JobView = try await fleet.admin.post("/v1/jobs/nope/cancel", [String: String]())
            }
            #expect(badID?.code == .rejected)
        }
    }

    @Test func consistencyChecksOfAVMOrAGroup() async throws {
        try await Self.withFleet { fleet in
            for body in [CheckRequest(), CheckRequest(vm: "kvm1/web1", group: "gold")] {
                let refused = await #expect(throws: ClientError.self) {
                    let _: [JobView] = try await fleet.admin.post("/v1/check", body)
                }
                #expect(refused?.code == .rejected && refused?.message.contains("exactly one") == true)
            }
            let jobs: [JobView] = try await fleet.admin.post("/v1/check", CheckRequest(group: "gold"))
            #expect(jobs.map(\.kind) == ["consistency-check"] && jobs.first?.vm == fleet.web1)
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.command == .consistencyCheck && task.id == jobs.first?.id)
            let busy = await #expect(throws: ClientError.self) {
                let _: [JobView] = try await fleet.admin.post("/v1/check", CheckRequest(vm: "web1"))
            }
            #expect(busy?.message.contains(task.id) == true)
        }
    }

    @Test func anAgentThatNoLongerRunsItsTaskHasItFailed() async throws {
        try await Self.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let task = try #require(try await fleet.kvm1.nextTask())
            let query = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/chunks/query", json: ChunkQuery(digests: []))
            #expect(query.status == 200, "any call about the task shows the agent has it")
            // kvm2's poll says nothing about kvm1's tasks.
            #expect(try await fleet.kvm2.nextTask(running: []) == nil)
            #expect((try await fleet.admin.get("/v1/jobs/\(job.id)") as JobView).state == .running)
            // kvm1 restarted: it polls naming no running task.
            #expect(try await fleet.kvm1.nextTask(running: []) == nil)
            let view: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
            #expect(view.state == .failed)
            #expect(view.error == "the agent on kvm1 restarted while the task ran; its partial data is not a recovery point")
            let late = try await fleet.kvm1.send(.POST, "/v1/agent/tasks/\(task.id)/status", json: AgentTaskStatus())
            #expect(late.status == 409 && late.message.contains("failed"))
        }
    }

    @Test func aClaimThatNeverReachedTheAgentIsHandedOutAgain() async throws {
        try await Self.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            // The answer to this poll is "lost": the agent never reports on the task and polls again without it.
            _ = try #require(try await fleet.kvm1.nextTask())
            let again = try #require(try await fleet.kvm1.nextTask(running: []))
            #expect(again.id == job.id)
            let view: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
            #expect(view.state == .running && view.log?.contains { $0.message.contains("queued again") } == true)
        }
    }

    @Test func aJobRunningWhenTheServerStopsIsFailedOnTheNextStart() async throws {
        let data = try TemporaryDirectory("bulwarkd-restart")
        let folder = try TemporaryDirectory("bulwarkd-restart-store")
        defer {
            data.cleanUp()
            folder.cleanUp()
        }
        var remembered: (job: String, agent: FakeAgent)?
        try await withServer(dataDirectory: data.path) { admin, directory in
            try await Self.setUp(admin: admin, directory: directory, storePath: folder.file("main")) { fleet in
                let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
                _ = try #require(try await fleet.kvm1.nextTask())
                remembered = (job.id, try fleet.kvm1.reconnected(to: admin.configuration.serverURL))
            }
        }
        let (id, agent) = try #require(remembered)
        try await withServer(dataDirectory: data.path) { admin, _ in
            let view: JobView = try await admin.get("/v1/jobs/\(id)")
            #expect(view.state == .failed && view.error?.hasPrefix("bulwarkd stopped while the job ran") == true)
            // The agent's certificate still works after the restart; its task is over.
            let again = try agent.reconnected(to: admin.configuration.serverURL)
            let late = try await again.send(.POST, "/v1/agent/tasks/\(id)/status", json: AgentTaskStatus())
            await again.shutdown()
            #expect(late.status == 409)
        }
        await agent.shutdown()
    }
}
