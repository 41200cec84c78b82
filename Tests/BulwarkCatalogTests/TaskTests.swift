import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

/// Agent tasks: queued for a protected VM, claimed by the agent of its host, reported on, and ended by a commit
/// (point, checkpoint and job in one transaction) or a failure.
@Suite struct TaskTests {
    /// Datastore `main` (1 MiB chunks), group `gold` (7 days, quiesce required) holding kvm1/web1 and kvm1/db1;
    /// kvm2/app1 is in no group.
    func withFleet(_ body: (Catalog, _ web: UUID, _ db: UUID, _ app: UUID) async throws -> Void) async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(
                name: name("main"), path: path("/srv/main"), chunkSize: try ChunkSize(bytes: 1 << 20), now: t0)
            try await catalog.createGroup(
                name: name("gold"), datastore: name("main"),
                policy: try ProtectionPolicy(retentionDays: 7, quiesce: .required), now: t0)
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            let web = reported("web1", disks: 2)
            let db = reported("db1")
            let app = reported("app1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web, db], now: t0)
            try await catalog.replaceInventory(host: "kvm2", vms: [app], now: t0)
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("web1"), vmRef("db1")], now: t0)
            try await body(catalog, web.uuid, db.uuid, app.uuid)
        }
    }

    func sync(_ vm: UUID, at offset: TimeInterval = 0) -> NewTask {
        NewTask(
            id: .generate(at: t0.addingTimeInterval(offset)), vmUUID: vm, command: .sync,
            createdAt: t0.addingTimeInterval(offset))
    }

    func point(_ vm: UUID, at offset: TimeInterval, checkpoint: String? = nil) -> NewRecoveryPoint {
        NewRecoveryPoint(
            id: .generate(at: t0.addingTimeInterval(offset)), vmUUID: vm, group: name("gold"), datastore: name("main"),
            createdAt: t0.addingTimeInterval(offset), syncKind: .full, consistency: .crashConsistent,
            logicalBytes: 3 << 30, storedBytes: 1 << 20, transferredBytes: 2 << 20,
            retainUntil: t0.addingTimeInterval(offset + 7 * 86_400), checkpointName: checkpoint)
    }

    @Test func aTaskNeedsAGroupAHostAndNoOtherActiveJob() async throws {
        try await withFleet { catalog, web, db, app in
            let job = try await catalog.createTask(NewTask(
                id: .generate(at: t0), vmUUID: web, command: .sync, expressFull: true,
                retainUntil: t0.addingTimeInterval(90 * 86_400), createdAt: t0))
            #expect(job.kind == .expressFull && job.state == .queued && job.subject == "kvm1/web1")
            #expect(job.group == name("gold") && job.datastore == name("main") && job.vmUUID == web && job.host == nil)
            let task = try await catalog.task(id: job.id)
            #expect(task.parameters.quiesce == .required && task.parameters.expressFull)
            #expect(task.parameters.retainUntil == t0.addingTimeInterval(90 * 86_400))
            #expect(task.retentionDays == 7 && task.chunkSize == 1 << 20 && task.base == nil && task.host == nil)

            await expectCatalogError(.conflict, "kvm1/web1", "\(job.id)", "queued", "bulwark job cancel") {
                try await catalog.createTask(sync(web, at: 1))
            }
            await expectCatalogError(.conflict, "kvm2/app1", "in no protection group", "bulwark group add") {
                try await catalog.createTask(sync(app))
            }
            // A check of several VMs is all or none: db1 is fine, but web1 is busy.
            await expectCatalogError(.conflict, "\(job.id)") {
                try await catalog.createTasks([
                    NewTask(vmUUID: db, command: .consistencyCheck), NewTask(vmUUID: web, command: .consistencyCheck),
                ])
            }
            #expect(try await catalog.jobs(JobFilter(vmUUID: db)).isEmpty)
            let check = try await catalog.createTasks([NewTask(vmUUID: db, command: .consistencyCheck)])
            #expect(check.map(\.kind) == [.consistencyCheck])

            // A VM no host reports any more cannot be synced: no agent would run it.
            try await catalog.requestCancel(id: check[0].id)
            try await catalog.replaceInventory(host: "kvm1", vms: [reported("web1", uuid: web)], now: t0)
            await expectCatalogError(.conflict, "not reported by any enrolled host") {
                try await catalog.createTask(sync(db, at: 2))
            }
            await expectCatalogError(.notFound, "no VM has UUID") { try await catalog.createTask(sync(UUID())) }
        }
    }

    @Test func agentsClaimTheOldestTaskOfTheirOwnVMs() async throws {
        try await withFleet { catalog, web, db, app in
            #expect(try await catalog.claimTask(host: "kvm1", now: t0) == nil)
            let second = try await catalog.createTask(sync(db, at: 5))
            let first = try await catalog.createTask(sync(web, at: 1))
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("app1")], now: t0)
            let third = try await catalog.createTask(sync(app, at: 0))

            #expect(try await catalog.claimTask(host: "kvm2", now: t0)?.job.id == third.id)
            let claimed = try #require(try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(10)))
            #expect(claimed.job.id == first.id && claimed.host == "kvm1" && claimed.vmName == "web1")
            #expect(claimed.job.state == .running && claimed.job.phase == .snapshot && claimed.job.host == "kvm1")
            #expect(claimed.job.startedAt == t0.addingTimeInterval(10) && claimed.heartbeatAt == t0.addingTimeInterval(10))
            #expect(try await catalog.jobLog(id: first.id).map(\.message) == ["claimed by the agent on kvm1"])
            #expect(try await catalog.claimTask(host: "kvm1", now: t0)?.job.id == second.id)
            #expect(try await catalog.claimTask(host: "kvm1", now: t0) == nil)
            await expectCatalogError(.notFound, "no agent is enrolled for host 'kvm9'") {
                try await catalog.claimTask(host: "kvm9")
            }
        }
    }

    /// Limits hold tasks back, queued and in order, while a host or a datastore runs as many as allowed.
    @Test func limitsPerHostAndPerDatastoreHoldTasksBack() async throws {
        try await withFleet { catalog, web, db, app in
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("app1")], now: t0)
            let first = try await catalog.createTask(sync(web, at: 1))
            let second = try await catalog.createTask(sync(db, at: 2))
            let third = try await catalog.createTask(sync(app, at: 3))

            let perHost = JobLimits(perHost: 1)
            #expect(try await catalog.claimTask(host: "kvm1", now: t0, limits: perHost)?.job.id == first.id)
            #expect(try await catalog.claimTask(host: "kvm1", now: t0, limits: perHost) == nil, "kvm1 runs one already")
            // All three share datastore main: with two running, the third waits for one to end.
            let perDatastore = JobLimits(perDatastore: 2)
            #expect(try await catalog.claimTask(host: "kvm1", now: t0, limits: perDatastore)?.job.id == second.id)
            #expect(try await catalog.claimTask(host: "kvm2", now: t0, limits: perDatastore) == nil, "main runs two")
            try await catalog.finishTask(id: first.id, host: "kvm1", state: .failed, error: "test")
            #expect(try await catalog.claimTask(host: "kvm2", now: t0, limits: perDatastore)?.job.id == third.id)
        }
    }

    @Test func aVMThatMovedIsClaimedByItsNewHost() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            try await catalog.replaceInventory(host: "kvm1", vms: [], now: t0)
            try await catalog.replaceInventory(host: "kvm2", vms: [reported("web1", uuid: web)], now: t0)
            #expect(try await catalog.claimTask(host: "kvm1") == nil)
            #expect(try await catalog.claimTask(host: "kvm2")?.job.id == job.id)
        }
    }

    @Test func theBaseIsTheNewestSoundPointWithItsCheckpoint() async throws {
        try await withFleet { catalog, web, _, _ in
            let older = point(web, at: 100, checkpoint: "bulwark-1")
            try await catalog.insertRecoveryPoint(
                older, checkpoint: NewCheckpoint(vmUUID: web, name: "bulwark-1", host: "kvm1", xml: "<c1/>", createdAt: t0))
            let newer = point(web, at: 200)
            try await catalog.insertRecoveryPoint(newer)
            try await catalog.updateRecoveryPointState(id: newer.id, to: .damaged)
            // A point in another datastore is no base for this group's syncs.
            _ = try await catalog.addDatastore(name: name("other"), path: path("/srv/other"), now: t0)
            var elsewhere = point(web, at: 300)
            elsewhere.datastore = name("other")
            try await catalog.insertRecoveryPoint(elsewhere)

            let job = try await catalog.createTask(sync(web, at: 400))
            let task = try #require(try await catalog.claimTask(host: "kvm1"))
            #expect(task.job.id == job.id)
            let base = try #require(task.base)
            #expect(base.point.id == older.id)
            #expect(base.checkpoint?.name == "bulwark-1" && base.checkpoint?.xml == "<c1/>" && base.checkpoint?.host == "kvm1")

            // Once verified, the newer point is the base; it has no checkpoint (a shut-off VM's point).
            try await catalog.updateRecoveryPointState(id: newer.id, to: .verified)
            #expect(try await catalog.task(id: job.id).base?.point.id == newer.id)
            #expect(try await catalog.task(id: job.id).base?.checkpoint == nil)
            // A checkpoint found invalid is not handed out: the agent checks consistency instead.
            try await catalog.updateRecoveryPointState(id: newer.id, to: .damaged)
            try await catalog.updateCheckpointState(vm: web, name: "bulwark-1", to: .invalid)
            let again = try await catalog.task(id: job.id).base
            #expect(again?.point.id == older.id && again?.checkpoint == nil)
        }
    }

    @Test func statusReportsMoveTheJobAndAnswerWhetherToCancel() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            let cancel = try await catalog.recordTaskStatus(
                id: job.id, host: "KVM1",
                TaskStatus(
                    phase: .transfer, progress: TaskProgress(bytesTotal: 1000, bytesScanned: 250, bytesSent: 100),
                    log: [.init(time: t0.addingTimeInterval(1), level: .warning, message: "no guest agent")]),
                now: t0.addingTimeInterval(2))
            #expect(!cancel)
            let info = try await catalog.job(id: job.id)
            #expect(info.job.phase == .transfer && info.job.progress == 0.25)
            #expect(info.job.bytes == TaskProgress(bytesTotal: 1000, bytesScanned: 250, bytesSent: 100))
            #expect(info.log.last?.message == "no guest agent" && info.log.last?.level == .warning)
            #expect(try await catalog.task(id: job.id).heartbeatAt == t0.addingTimeInterval(2))

            await expectCatalogError(.invalid, "negative") {
                try await catalog.recordTaskStatus(
                    id: job.id, host: "kvm1",
                    TaskStatus(progress: TaskProgress(bytesTotal: -1, bytesScanned: 0, bytesSent: 0)))
            }
            await expectCatalogError(.notFound, "no task \(job.id) for host kvm2") {
                try await catalog.recordTaskStatus(id: job.id, host: "kvm2", TaskStatus())
            }
            try await catalog.requestCancel(id: job.id)
            #expect(try await catalog.recordTaskStatus(id: job.id, host: "kvm1", TaskStatus()))
        }
    }

    @Test func cancellingAQueuedJobEndsItARunningOneAsksItsAgent() async throws {
        try await withFleet { catalog, web, db, _ in
            let queued = try await catalog.createTask(sync(db))
            let cancelled = try await catalog.requestCancel(id: queued.id, now: t0.addingTimeInterval(1))
            #expect(cancelled.state == .cancelled && cancelled.endedAt == t0.addingTimeInterval(1))
            #expect(cancelled.error?.contains("before it started") == true)
            await expectCatalogError(.conflict, "already ended (cancelled)") {
                try await catalog.requestCancel(id: queued.id)
            }

            let running = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1")
            let asked = try await catalog.requestCancel(id: running.id)
            #expect(asked.state == .running && asked.cancelRequested)
            await expectCatalogError(.cancelled, "cancelled by an admin", "finish the task as cancelled") {
                try await catalog.commitTask(id: running.id, host: "kvm1", point: point(web, at: 1), checkpoint: nil)
            }
            #expect(try await catalog.recoveryPoints(vm: web).isEmpty)
            let finished = try await catalog.finishTask(
                id: running.id, host: "kvm1", state: .cancelled, error: "stopped on request")
            #expect(finished.state == .cancelled && finished.error == "stopped on request")
            #expect(try await catalog.jobLog(id: running.id).last?.message == "cancelled: stopped on request")
            await expectCatalogError(.notFound, "no job has id") { try await catalog.requestCancel(id: .generate()) }

            // Jobs bulwarkd runs itself cannot be stopped half-way.
            let verify = try await catalog.createJob(NewJob(kind: .verify, subject: "datastore main"))
            try await catalog.updateJob(id: verify.id, JobUpdate(state: .running))
            await expectCatalogError(.conflict, "run by bulwarkd itself") { try await catalog.requestCancel(id: verify.id) }
        }
    }

    @Test func cancellingAgainEndsATaskWhoseAgentWentSilent() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            _ = try await catalog.recordTaskStatus(id: job.id, host: "kvm1", TaskStatus(), now: t0.addingTimeInterval(100))
            #expect(try await catalog.requestCancel(id: job.id, now: t0.addingTimeInterval(200)).state == .running)
            // Asked again while the agent still reports: it is still the agent's to finish.
            #expect(try await catalog.requestCancel(id: job.id, now: t0.addingTimeInterval(300)).state == .running)
            let ended = try await catalog.requestCancel(id: job.id, now: t0.addingTimeInterval(100 + 600))
            #expect(ended.state == .cancelled && ended.error?.contains("has not reported since") == true)
            #expect(try await catalog.createTask(sync(web, at: 800)).state == .queued)
        }
    }

    @Test func finishingRecordsTheAgentsReason() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1")
            await expectCatalogError(.invalid, "not succeeded", "commit") {
                try await catalog.finishTask(id: job.id, host: "kvm1", state: .succeeded, error: nil)
            }
            let failed = try await catalog.finishTask(
                id: job.id, host: "kvm1", state: .failed, error: "checkpoint bulwark-1 is inconsistent",
                now: t0.addingTimeInterval(5))
            #expect(failed.state == .failed && failed.endedAt == t0.addingTimeInterval(5))
            #expect(failed.error == "checkpoint bulwark-1 is inconsistent")
            #expect(try await catalog.jobLog(id: job.id).last?.message == "failed: checkpoint bulwark-1 is inconsistent")
            await expectCatalogError(.conflict, "task \(job.id) is failed") {
                try await catalog.finishTask(id: job.id, host: "kvm1", state: .failed, error: "again")
            }
            await expectCatalogError(.conflict, "is failed") { try await catalog.runningTask(id: job.id, host: "kvm1") }
        }
    }

    @Test func aCommitRecordsPointCheckpointAndSuccessTogether() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1")
            let made = point(web, at: 60, checkpoint: "bulwark-7")
            let checkpoint = NewCheckpoint(vmUUID: web, name: "bulwark-7", host: "kvm1", xml: "<c7/>", createdAt: t0)
            await expectCatalogError(.notFound, "no task \(job.id) for host kvm2") {
                try await catalog.commitTask(id: job.id, host: "kvm2", point: made, checkpoint: checkpoint)
            }
            let done = try await catalog.commitTask(
                id: job.id, host: "kvm1", point: made, checkpoint: checkpoint, now: t0.addingTimeInterval(61))
            #expect(done.state == .succeeded && done.progress == 1 && done.recoveryPointID == made.id)
            #expect(done.endedAt == t0.addingTimeInterval(61) && done.phase == .commit)
            #expect(try await catalog.recoveryPoints(vm: web).map(\.id) == [made.id])
            #expect(try await catalog.currentCheckpoint(vm: web)?.name == "bulwark-7")
            #expect(try await catalog.jobLog(id: job.id).last?.message.contains("committed recovery point \(made.id)") == true)

            // A late second commit of the same task records nothing.
            await expectCatalogError(.conflict, "is succeeded") {
                try await catalog.commitTask(id: job.id, host: "kvm1", point: point(web, at: 70), checkpoint: nil)
            }
            #expect(try await catalog.recoveryPoints(vm: web).count == 1)

            // A checkpoint name that is taken (by another checkpoint) undoes the whole commit: no point, the job
            // still running.
            let next = try await catalog.createTask(sync(web, at: 100))
            _ = try await catalog.claimTask(host: "kvm1")
            var other = checkpoint
            other.xml = "<another/>"
            await expectCatalogError(.alreadyExists, "bulwark-7") {
                try await catalog.commitTask(
                    id: next.id, host: "kvm1", point: point(web, at: 120, checkpoint: "bulwark-7"), checkpoint: other)
            }
            #expect(try await catalog.recoveryPoints(vm: web).count == 1)
            #expect(try await catalog.job(id: next.id).job.state == .running)

            // A sync of the shut-off VM names the current checkpoint as the catalog has it: the point reuses it.
            let offline = try await catalog.commitTask(
                id: next.id, host: "kvm1", point: point(web, at: 130, checkpoint: "bulwark-7"), checkpoint: checkpoint)
            #expect(offline.state == .succeeded)
            #expect(try await catalog.checkpoints(vm: web).map(\.name) == ["bulwark-7"])
            #expect(try await catalog.currentCheckpoint(vm: web)?.name == "bulwark-7")
        }
    }

    @Test func tasksTheAgentNoLongerRunsAreFailed() async throws {
        try await withFleet { catalog, web, db, _ in
            let kept = try await catalog.createTask(sync(web))
            let lost = try await catalog.createTask(sync(db, at: 1))
            _ = try await catalog.claimTask(host: "kvm1")
            _ = try await catalog.claimTask(host: "kvm1")
            _ = try await catalog.recordTaskStatus(id: kept.id, host: "kvm1", TaskStatus(phase: .transfer))
            try await catalog.acknowledgeTask(id: lost.id, host: "kvm1")
            #expect(try await catalog.task(id: lost.id).acknowledged)
            #expect(try await catalog.failOrphanedTasks(host: "kvm2", running: []).isEmpty)
            let failed = try await catalog.failOrphanedTasks(host: "kvm1", running: [kept.id, .generate()])
            #expect(failed.map(\.id) == [lost.id])
            #expect(failed.first?.state == .failed)
            #expect(failed.first?.error == "the agent on kvm1 restarted while the task ran; its partial data is not a recovery point")
            #expect(try await catalog.job(id: kept.id).job.state == .running)
            #expect(try await catalog.failOrphanedTasks(host: "kvm1", running: []).map(\.id) == [kept.id])
        }
    }

    @Test func aClaimTheAgentNeverReportedOnIsQueuedAgain() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            let changed = try await catalog.failOrphanedTasks(host: "kvm1", running: [], now: t0.addingTimeInterval(1))
            #expect(changed.map(\.id) == [job.id])
            let queued = try await catalog.job(id: job.id)
            #expect(queued.job.state == .queued && queued.job.host == nil && queued.job.startedAt == nil)
            #expect(queued.job.phase == nil && queued.job.error == nil)
            #expect(queued.log.last?.message.contains("queued again") == true)
            let again = try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(2))
            #expect(again?.job.id == job.id && again?.job.startedAt == t0.addingTimeInterval(2))
        }
    }

    @Test func jobsLeftRunningFailWhenTheServerStarts() async throws {
        try await withFleet { catalog, web, db, _ in
            let running = try await catalog.createTask(sync(web))
            let queued = try await catalog.createTask(sync(db, at: 1))
            _ = try await catalog.claimTask(host: "kvm1")
            let failed = try await catalog.failInterruptedJobs(now: t0.addingTimeInterval(9))
            #expect(failed.map(\.id) == [running.id])
            #expect(failed.first?.error?.hasPrefix("bulwarkd stopped while the job ran") == true)
            #expect(failed.first?.endedAt == t0.addingTimeInterval(9))
            #expect(try await catalog.job(id: queued.id).job.state == .queued)
            #expect(try await catalog.failInterruptedJobs().isEmpty)
        }
    }
}
