import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkServer
import Foundation
import Testing

/// A VM that joins a group gets its initial replica as the group's `--replica-creation` says.
@Suite struct InitialReplicaTests {
    @Test func nowAtTimeAndManual() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let vms = ["db1", "db2", "db3"].map { AgentInventoryReport.VM(uuid: UUID(), name: $0, state: "running", guestAgentAnswering: false, disks: []) }
            _ = try await fleet.kvm2.reportInventory(vms)
            let later = Date().addingTimeInterval(3 * 3600)
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = .current
            let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: later)
            let moment = String(
                format: "at:%04d-%02d-%02dT%02d:%02d", parts.year!, parts.month!, parts.day!, parts.hour!, parts.minute!)
            for (group, creation) in [("now", "now"), ("later", moment), ("manual", "manual")] {
                let _: GroupView = try await fleet.admin.post(
                    "/v1/groups", GroupCreateRequest(name: group, datastore: "main", policy: .init(replicaCreation: creation)))
            }

            // now: queued at once, as its own kind, and the agent's next poll gets it.
            let now: GroupView = try await fleet.admin.post("/v1/groups/now/members", GroupMembersRequest(vms: ["kvm2/db1"]))
            let replica = try #require(now.initialReplicas?.first)
            #expect(now.initialReplicas?.count == 1)
            #expect(replica.kind == "initial-replica" && replica.state == .queued && replica.startAt == nil)
            #expect(replica.subject == "kvm2/db1")
            let task = try #require(try await fleet.kvm2.nextTask())
            #expect(task.id == replica.id && task.command == .sync && task.base == nil)
            // A second sync is refused while the replica runs, naming it.
            do {
                let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm2/db1"))
                Issue.record("a second sync was queued while the initial replica runs")
            } catch {
                #expect("\(error)".contains(replica.id), "\(error)")
            }

            // at:TIME: queued to start then; no poll gets it before.
            let atTime: GroupView = try await fleet.admin.post("/v1/groups/later/members", GroupMembersRequest(vms: ["kvm2/db2"]))
            let scheduled = try #require(atTime.initialReplicas?.first)
            let start = try #require(scheduled.startAt)
            #expect(abs(start.timeIntervalSince(later)) < 61 && scheduled.state == .queued)
            #expect(try await fleet.kvm2.nextTask(running: [task.id]) == nil)
            let job: JobView = try await fleet.admin.get("/v1/jobs/\(scheduled.id)")
            #expect(job.state == .queued && job.startAt == start)
            // Its time come (the catalog's clock injected), the host's agent claims it.
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let claimed = try #require(try await catalog.claimTask(host: "kvm2", now: start.addingTimeInterval(1)))
            #expect(claimed.job.id.description == scheduled.id && claimed.job.startAt == start)

            // manual: nothing is queued; the admin starts the first sync.
            let manual: GroupView = try await fleet.admin.post("/v1/groups/manual/members", GroupMembersRequest(vms: ["kvm2/db3"]))
            #expect(manual.initialReplicas == [])
            let jobs: [JobView] = try await fleet.admin.get("/v1/jobs")
            #expect(!jobs.contains { $0.subject == "kvm2/db3" })

            // A member added again, or a VM that has points already, gets no second replica.
            let again: GroupView = try await fleet.admin.post("/v1/groups/now/members", GroupMembersRequest(vms: ["kvm2/db1"]))
            #expect(again.initialReplicas == [])
        }
    }
}
