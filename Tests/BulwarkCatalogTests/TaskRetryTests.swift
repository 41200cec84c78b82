import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

/// Retries: a task that failed for a passing reason comes back as a new queued job after its back-off, each try
/// with its own history; refusals, cancels and VMs that left their group are not tried again.
extension TaskTests {
    var twoRetries: RetryPolicy { try! RetryPolicy(retries: 2, firstDelay: 60) }

    @Test func aTransientFailureIsTriedAgainAfterItsBackOff() async throws {
        try await withFleet { catalog, web, _, _ in
            let first = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            let failed = try await catalog.finishTask(
                id: first.id, host: "kvm1", state: .failed, error: "cannot read vda over NBD", transient: true,
                retry: twoRetries, now: t0.addingTimeInterval(10))
            #expect(failed.state == .failed && failed.attempt == 1)

            let second = try #require(try await catalog.jobs(JobFilter(activeOnly: true)).first)
            #expect(second.id != first.id && second.state == .queued && second.kind == .sync)
            #expect(second.attempt == 2 && second.retryOf == first.id && second.vmUUID == web)
            #expect(second.startAt == t0.addingTimeInterval(70))
            let log = try await catalog.jobLog(id: second.id).map(\.message)
            #expect(log.contains { $0.contains("try 2 of 3") && $0.contains("cannot read vda over NBD") }, "\(log)")
            #expect(try await catalog.jobLog(id: first.id).contains { $0.message.contains("tried again as job \(second.id)") })

            // Not claimed before its back-off ends.
            #expect(try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(69)) == nil)
            let claimed = try #require(try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(70)))
            #expect(claimed.job.id == second.id)
            // The second retry waits four times longer; after it, nothing more.
            try await catalog.finishTask(
                id: second.id, host: "kvm1", state: .failed, error: "again", transient: true, retry: twoRetries,
                now: t0.addingTimeInterval(100))
            let third = try #require(try await catalog.jobs(JobFilter(activeOnly: true)).first)
            #expect(third.attempt == 3 && third.retryOf == second.id && third.startAt == t0.addingTimeInterval(340))
            _ = try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(340))
            try await catalog.finishTask(
                id: third.id, host: "kvm1", state: .failed, error: "still", transient: true, retry: twoRetries,
                now: t0.addingTimeInterval(400))
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).isEmpty)
        }
    }

    @Test func refusalsAndCancelsAreNotTriedAgain() async throws {
        try await withFleet { catalog, web, db, _ in
            let refused = try await catalog.createTask(sync(web))
            let cancelled = try await catalog.createTask(sync(db, at: 1))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            try await catalog.finishTask(
                id: refused.id, host: "kvm1", state: .failed, error: "the datastore is full", transient: false,
                retry: twoRetries, now: t0.addingTimeInterval(5))
            try await catalog.finishTask(
                id: cancelled.id, host: "kvm1", state: .cancelled, error: nil, transient: true, retry: twoRetries,
                now: t0.addingTimeInterval(5))
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).isEmpty)
        }
    }

    @Test func aVMRemovedFromItsGroupMidJobIsNotTriedAgain() async throws {
        try await withFleet { catalog, web, _, _ in
            let job = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            try await catalog.acknowledgeTask(id: job.id, host: "kvm1")
            try await catalog.removeMembers(group: name("gold"), vms: [vmRef("kvm1/web1")])
            let failed = try await catalog.failOrphanedTasks(
                host: "kvm1", running: [], retry: twoRetries, now: t0.addingTimeInterval(6))
            #expect(failed.map(\.state) == [.failed])
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).isEmpty)
            #expect(try await catalog.jobLog(id: job.id).contains { $0.message.contains("no longer in a protection group") })
        }
    }

    /// bulwarkd killed with jobs in every phase: on start, the queued one stays queued, every running one (snapshot,
    /// transfer, commit) is failed with the reason and tried again, and none of them left a point.
    @Test func aServerKilledWithJobsInEveryPhaseRetriesThemOnStart() async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(
                name: name("main"), path: path("/srv/main"), chunkSize: try ChunkSize(bytes: 1 << 20), now: t0)
            try await catalog.createGroup(
                name: name("gold"), datastore: name("main"), policy: try ProtectionPolicy(retentionDays: 7), now: t0)
            try await addHost(catalog, "kvm1")
            let vms = (0..<4).map { reported("vm\($0)") }
            try await catalog.replaceInventory(host: "kvm1", vms: vms, now: t0)
            try await catalog.addMembers(group: name("gold"), vms: vms.map { vmRef("kvm1/\($0.name)") }, now: t0)
            var jobs: [JobInfo] = []
            for (index, vm) in vms.enumerated() {
                jobs.append(try await catalog.createTask(
                    NewTask(id: .generate(at: t0.addingTimeInterval(Double(index))), vmUUID: vm.uuid, command: .sync,
                            createdAt: t0.addingTimeInterval(Double(index)))))
            }
            for (job, phase) in zip(jobs.prefix(3), [JobPhase.snapshot, .transfer, .commit]) {
                let claimed = try #require(try await catalog.claimTask(host: "kvm1", now: t0))
                #expect(claimed.job.id == job.id)
                _ = try await catalog.recordTaskStatus(id: job.id, host: "kvm1", TaskStatus(phase: phase), now: t0)
            }
            let restart = t0.addingTimeInterval(600)
            let failed = try await catalog.failInterruptedJobs(retry: twoRetries, now: restart)
            #expect(failed.map(\.id) == jobs.prefix(3).map(\.id))
            #expect(failed.allSatisfy { $0.state == .failed && $0.error?.contains("bulwarkd stopped") == true })
            let active = try await catalog.jobs(JobFilter(activeOnly: true))
            #expect(active.count == 4 && active.allSatisfy { $0.state == .queued })
            #expect(Set(active.compactMap(\.retryOf)) == Set(jobs.prefix(3).map(\.id)))
            #expect(active.filter { $0.retryOf != nil }.allSatisfy { $0.startAt == restart.addingTimeInterval(60) })
            #expect(active.contains { $0.id == jobs[3].id && $0.attempt == 1 })
            for vm in vms { #expect(try await catalog.recoveryPoints(vm: vm.uuid).isEmpty) }
        }
    }

    @Test func aNewRequestSupersedesAWaitingRetry() async throws {
        try await withFleet { catalog, web, _, _ in
            let first = try await catalog.createTask(sync(web))
            _ = try await catalog.claimTask(host: "kvm1", now: t0)
            try await catalog.acknowledgeTask(id: first.id, host: "kvm1")
            _ = try await catalog.failOrphanedTasks(host: "kvm1", running: [], retry: twoRetries, now: t0.addingTimeInterval(1))
            let retry = try #require(try await catalog.jobs(JobFilter(activeOnly: true)).first)
            #expect(retry.retryOf == first.id)
            let asked = try await catalog.createTask(sync(web, at: 2))
            #expect(asked.state == .queued && asked.attempt == 1)
            let superseded = try await catalog.job(id: retry.id).job
            #expect(superseded.state == .cancelled && superseded.error?.contains("superseded by job \(asked.id)") == true)
            // An ordinary queued job still refuses a second one.
            await expectCatalogError(.conflict, "\(asked.id)") { try await catalog.createTask(sync(web, at: 3)) }
        }
    }

    /// A restore is retried where it was going, from the point it reads, whatever the VM's group: kvm2/app1 is in
    /// none, its point is past retention, and the restore goes to kvm1.
    @Test func aRestoreIsTriedAgainFromItsOwnPointToItsOwnHost() async throws {
        try await withFleet { catalog, _, _, app in
            var old = point(app, at: -30 * 86_400)
            old.group = nil
            old.retainUntil = t0.addingTimeInterval(-86_400)
            try await catalog.insertRecoveryPoint(old)
            let restore = TaskParameters.Restore(
                point: old.id, mode: .alternate, host: "kvm1", folder: "/srv/vms", name: "app1-copy", uuid: UUID())
            let first = try await catalog.createRecoveryTask(NewRecovery(vmUUID: app, restore: restore, createdAt: t0))
            #expect(try await catalog.claimTask(host: "kvm2", now: t0) == nil, "a restore runs on its target host")
            _ = try #require(try await catalog.claimTask(host: "kvm1", now: t0))
            try await catalog.finishTask(
                id: first.id, host: "kvm1", state: .failed, error: "lost the server", transient: true,
                retry: twoRetries, now: t0.addingTimeInterval(5))
            let retry = try #require(try await catalog.jobs(JobFilter(activeOnly: true)).first)
            #expect(retry.kind == .recovery && retry.retryOf == first.id && retry.datastore == name("main"))
            #expect(try await catalog.prunablePoints(now: t0.addingTimeInterval(10)).isEmpty, "the retry still reads the point")
            #expect(try await catalog.claimTask(host: "kvm2", now: t0.addingTimeInterval(65)) == nil)
            let claimed = try #require(try await catalog.claimTask(host: "kvm1", now: t0.addingTimeInterval(65)))
            #expect(claimed.job.id == retry.id && claimed.parameters.restore == restore)
        }
    }
}
