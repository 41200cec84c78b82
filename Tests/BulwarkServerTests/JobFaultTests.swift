import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// What changes under a running job ends in a defined state and loses no point: the group's policy changed, the
/// VM removed from its group.
@Suite struct JobFaultTests {
    /// A sync of web1 claimed by its agent, its chunks uploaded; `change` runs before the commit.
    private func syncWithChange(
        _ fleet: AgentProtocolTests.Fleet, _ change: () async throws -> Void
    ) async throws -> (job: JobView, point: RecoveryPointView?) {
        let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
        let task = try #require(try await fleet.kvm1.nextTask())
        let (sent, _) = try await AgentProtocolTests.upload([fleet.vda, fleet.vdb], task: task.id, as: fleet.kvm1)
        try await change()
        let answer = try await fleet.kvm1.send(
            .POST, "/v1/agent/tasks/\(task.id)/commit",
            json: AgentProtocolTests.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1", sent: sent))
        #expect(answer.status == 200, "\(answer.message)")
        let done: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)")
        let points: [RecoveryPointView] = try await fleet.admin.get("/v1/points?vm=kvm1/web1")
        return (done, points.first)
    }

    /// The group's retention and frequency changed while its sync runs: the point is kept, under the retention in
    /// force at its commit, and the schedule follows the new frequency from then on.
    @Test func aGroupChangedMidJobTakesEffectAtTheCommit() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let (job, point) = try await syncWithChange(fleet) {
                // The recovery point and express full of the day 12 hours from now: at their default (20:00) they
                // would fall inside the hour checked below whenever the test runs between 19:00 and 20:00 UTC.
                let hour = (Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).hour! + 12) % 24
                let far = String(format: "%02d:00", hour)
                let _: GroupView = try await fleet.admin.patch(
                    "/v1/groups/gold",
                    GroupModifyRequest(
                        policy: .init(retentionDays: "3", syncFrequency: "1h", recoveryPoints: far, expressFull: far)))
            }
            #expect(job.state == .succeeded)
            let kept = try #require(point)
            #expect(abs(kept.retainUntil.timeIntervalSince(kept.createdAt) - 3 * 86_400) < 1)
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let scheduler = Scheduler(catalog: catalog, logger: Logger(label: "scheduler-test"))
            #expect(try await scheduler.tick(now: kept.createdAt.addingTimeInterval(59 * 60)).isEmpty)
            #expect(try await scheduler.tick(now: kept.createdAt.addingTimeInterval(61 * 60)).map(\.kind) == [.sync])
        }
    }

    /// The VM removed from its group mid-sync: the sync's point is still committed (its data is good), under the
    /// group that made it; the schedule owes the VM nothing more.
    @Test func aMemberRemovedMidJobKeepsItsPointAndIsNotScheduled() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let (job, point) = try await syncWithChange(fleet) {
                let _: GroupView = try await fleet.admin.post(
                    "/v1/groups/gold/members/remove", GroupMembersRequest(vms: ["kvm1/web1"]))
            }
            #expect(job.state == .succeeded)
            #expect(point?.group == "gold" && point?.state == .committed)
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let scheduler = Scheduler(catalog: catalog, logger: Logger(label: "scheduler-test"))
            #expect(try await scheduler.tick(now: Date().addingTimeInterval(30 * 86_400)).isEmpty)
            // The restore data is there: every chunk the point names reads back.
            let reports: [MaintenanceReport] = try await fleet.admin.post("/v1/verify", [String: String]())
            let whole = reports.allSatisfy(\.ok)
            #expect(whole, "\(reports)")
        }
    }
}
