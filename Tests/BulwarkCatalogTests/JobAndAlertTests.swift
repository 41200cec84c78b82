import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct JobTests {
    @Test func createListShowAndFollowALog() async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            try await addHost(catalog, "kvm1")
            let web = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0)

            let sync = try await catalog.createJob(NewJob(
                id: .generate(at: t0), kind: .sync, subject: "kvm1/web1", vmUUID: web.uuid, group: name("gold"),
                createdAt: t0))
            #expect(sync.state == .queued && sync.phase == nil && sync.progress == 0 && sync.group == name("gold"))
            let verify = try await catalog.createJob(NewJob(
                id: .generate(at: t0.addingTimeInterval(1)), kind: .verify, subject: "datastore main",
                datastore: name("main"), createdAt: t0.addingTimeInterval(1)))
            #expect(try await catalog.jobs().map(\.id) == [verify.id, sync.id])
            #expect(try await catalog.jobs(JobFilter(vmUUID: web.uuid)).map(\.id) == [sync.id])
            #expect(try await catalog.jobs(JobFilter(limit: 1)).map(\.id) == [verify.id])

            let line1 = try await catalog.appendJobLog(id: sync.id, level: .info, message: "snapshot", at: t0)
            let line2 = try await catalog.appendJobLog(id: sync.id, level: .warning, message: "no guest agent", at: t0)
            #expect(line2.sequence > line1.sequence)
            let detail = try await catalog.job(id: sync.id)
            #expect(detail.job == sync)
            #expect(detail.log.map(\.message) == ["snapshot", "no guest agent"])
            #expect(detail.log.map(\.level) == [.info, .warning])
            #expect(try await catalog.jobLog(id: sync.id, after: line1.sequence).map(\.message) == ["no guest agent"])
            #expect(try await catalog.jobLog(id: verify.id).isEmpty)
        }
    }

    @Test func statesMoveOnlyForward() async throws {
        try await withCatalog { catalog, _ in
            let job = try await catalog.createJob(NewJob(kind: .verify, subject: "datastore main", createdAt: t0))
            let running = try await catalog.updateJob(
                id: job.id, JobUpdate(state: .running, phase: .snapshot), at: t0.addingTimeInterval(1))
            #expect(running.state == .running && running.startedAt == t0.addingTimeInterval(1) && running.endedAt == nil)
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).map(\.id) == [job.id])

            let moving = try await catalog.updateJob(id: job.id, JobUpdate(phase: .transfer, progress: 0.5))
            #expect(moving.phase == .transfer && moving.progress == 0.5 && moving.startedAt == t0.addingTimeInterval(1))
            await expectCatalogError(.invalid, "out of range") {
                try await catalog.updateJob(id: job.id, JobUpdate(progress: 1.5))
            }
            await expectCatalogError(.conflict, "cannot become queued") {
                try await catalog.updateJob(id: job.id, JobUpdate(state: .queued))
            }
            let done = try await catalog.updateJob(
                id: job.id, JobUpdate(state: .succeeded, phase: .commit), at: t0.addingTimeInterval(9))
            #expect(done.state == .succeeded && done.endedAt == t0.addingTimeInterval(9) && done.progress == 1)
            #expect(try await catalog.jobs(JobFilter(activeOnly: true)).isEmpty)
            await expectCatalogError(.conflict, "a finished job does not change") {
                try await catalog.updateJob(id: job.id, JobUpdate(state: .failed, error: "late"))
            }
            await expectCatalogError(.conflict, "a finished job does not change") {
                try await catalog.updateJob(id: job.id, JobUpdate(progress: 0.1))
            }

            let queued = try await catalog.createJob(NewJob(kind: .garbageCollection, subject: "datastore main", createdAt: t0))
            await expectCatalogError(.conflict, "cannot become succeeded") {
                try await catalog.updateJob(id: queued.id, JobUpdate(state: .succeeded))
            }
            let failed = try await catalog.updateJob(id: queued.id, JobUpdate(state: .failed, error: "datastore offline"))
            #expect(failed.error == "datastore offline" && failed.startedAt == nil && failed.endedAt != nil)
        }
    }

    @Test func unknownJobsAndReferencesAreRefused() async throws {
        try await withCatalog { catalog, _ in
            let missing = JobID.generate()
            await expectCatalogError(.notFound, "no job has id \(missing)") { try await catalog.job(id: missing) }
            await expectCatalogError(.notFound) { try await catalog.updateJob(id: missing, JobUpdate(state: .running)) }
            await expectCatalogError(.notFound) {
                try await catalog.appendJobLog(id: missing, level: .info, message: "x")
            }
            await expectCatalogError(.notFound, "no VM has UUID") {
                try await catalog.createJob(NewJob(kind: .sync, subject: "?", vmUUID: UUID()))
            }
            await expectCatalogError(.notFound, "no protection group is named 'gold'") {
                try await catalog.createJob(NewJob(kind: .sync, subject: "?", group: name("gold")))
            }
            let job = try await catalog.createJob(NewJob(kind: .sync, subject: "x"))
            await expectCatalogError(.alreadyExists) {
                try await catalog.createJob(NewJob(id: job.id, kind: .sync, subject: "x"))
            }
        }
    }

    @Test func jobsOutliveTheirVM() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm1")
            let web = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0)
            let job = try await catalog.createJob(NewJob(kind: .sync, subject: "kvm1/web1", vmUUID: web.uuid))
            try await catalog.replaceInventory(host: "kvm1", vms: [], now: t0)
            let kept = try await catalog.job(id: job.id).job
            #expect(kept.vmUUID == nil && kept.subject == "kvm1/web1")
        }
    }
}

@Suite struct AlertTests {
    @Test func raiseListResolve() async throws {
        try await withCatalog { catalog, _ in
            let failed = try await catalog.raiseAlert(
                kind: .syncFailed, severity: .warning, subject: "kvm1/web1", message: "sync failed once", at: t0)
            // The same problem again updates the open alert instead of adding one.
            let again = try await catalog.raiseAlert(
                kind: .syncFailed, severity: .critical, subject: "kvm1/web1", message: "sync failed 3 times",
                at: t0.addingTimeInterval(60))
            #expect(again.id == failed.id && again.severity == .critical && again.message == "sync failed 3 times")
            #expect(again.raisedAt == t0)
            let damaged = try await catalog.raiseAlert(
                kind: .recoveryPointDamaged, severity: .critical, subject: "kvm1/web1", message: "chunk mismatch",
                at: t0.addingTimeInterval(120))
            #expect(try await catalog.alerts().map(\.id) == [damaged.id, failed.id])

            let resolved = try await catalog.resolveAlert(id: failed.id, at: t0.addingTimeInterval(180))
            #expect(resolved.resolvedAt == t0.addingTimeInterval(180))
            #expect(try await catalog.resolveAlert(id: failed.id, at: t0.addingTimeInterval(999)).resolvedAt
                == t0.addingTimeInterval(180))
            #expect(try await catalog.alerts().map(\.id) == [damaged.id])
            #expect(try await catalog.alerts(includeResolved: true).count == 2)

            let fresh = try await catalog.raiseAlert(
                kind: .syncFailed, severity: .warning, subject: "kvm1/web1", message: "again", at: t0.addingTimeInterval(200))
            #expect(fresh.id != failed.id)
            #expect(try await catalog.resolveAlerts(kind: .syncFailed, subject: "kvm1/web1") == 1)
            #expect(try await catalog.resolveAlerts(kind: .syncFailed, subject: "kvm1/web1") == 0)
            await expectCatalogError(.notFound, "no alert has id") { try await catalog.resolveAlert(id: .generate()) }
        }
    }
}

@Suite struct ConcurrencyTests {
    /// Many tasks writing and reading at once: GRDB serializes writes, readers see committed states only.
    @Test func concurrentCallsAllLand() async throws {
        try await withCatalog { catalog, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let job = try await catalog.createJob(NewJob(kind: .verify, subject: "job \(index)"))
                        try await catalog.appendJobLog(id: job.id, level: .info, message: "hello \(index)")
                        _ = try await catalog.jobs()
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await catalog.jobs().count == 40)
        }
    }
}
