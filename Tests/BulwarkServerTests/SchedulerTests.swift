import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// The scheduler against a real server and catalog, its clock injected: a group with a 15-minute sync frequency
/// and two recovery-point times runs unattended, through a restart, and owes one run for slots it slept through.
@Suite struct SchedulerTests {
    @Test func aGroupRunsUnattendedThroughARestart() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let _: GroupView = try await fleet.admin.patch(
                "/v1/groups/gold",
                GroupModifyRequest(policy: .init(syncFrequency: "15m", recoveryPoints: "08:00,20:00", expressFull: "none")))
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            func scheduler() -> Scheduler {
                Scheduler(
                    catalog: catalog, taskSignal: TaskSignal(), interval: .seconds(1), calendar: utc,
                    logger: Logger(label: "scheduler-test"))
            }
            // Clear of any 08:00 or 20:00 slot: tomorrow 10:00 UTC.
            let t0 = utc.date(byAdding: .hour, value: 34, to: utc.startOfDay(for: Date()))!
            func minutes(_ count: Int) -> Date { t0.addingTimeInterval(TimeInterval(count * 60)) }

            // Before the initial replica the schedule owes nothing.
            #expect(try await scheduler().tick(now: t0).isEmpty)
            try await catalog.insertRecoveryPoint(
                NewRecoveryPoint(
                    vmUUID: fleet.web1, group: try ResourceName("gold", field: "group"), datastore: try ResourceName("main", field: "datastore"), createdAt: t0, syncKind: .full,
                    consistency: .crashConsistent, logicalBytes: Int64(fleet.vda.image.count + fleet.vdb.image.count),
                    storedBytes: 0, transferredBytes: 0,
                    retainUntil: t0.addingTimeInterval(86_400 * 10)))
            #expect(try await scheduler().tick(now: minutes(14)).isEmpty)

            // 15 minutes after the point: one sync, claimed by the VM's agent.
            let first = try await scheduler().tick(now: minutes(15))
            #expect(first.count == 1 && first.first?.kind == .sync && first.first?.vmUUID == fleet.web1)
            let log = try await catalog.jobLog(id: try #require(first.first?.id)).map(\.message)
            #expect(log.contains { $0.contains("scheduled by group gold: sync every 15m") }, "\(log)")
            // A second pass while it is queued queues nothing.
            #expect(try await scheduler().tick(now: minutes(15)).isEmpty)
            let task = try #require(try await fleet.kvm1.nextTask())
            #expect(task.id == first.first?.id.description)
            _ = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/finish", json: AgentTaskFinish(state: .failed, error: "test"))

            // A restarted scheduler (a new instance on the same catalog) repeats nothing.
            #expect(try await scheduler().tick(now: minutes(16)).isEmpty)
            #expect(try await scheduler().tick(now: minutes(29)).isEmpty)
            #expect(try await scheduler().tick(now: minutes(30)).count == 1)
            _ = try await fleet.kvm1.nextTask(running: [])

            // Asleep from 10:30 until 21:00: the 20:00 recovery point is owed once, and says so.
            let evening = utc.date(byAdding: .hour, value: 11, to: minutes(0))!
            try await catalog.failInterruptedJobs(now: evening)
            let owed = try await scheduler().tick(now: evening)
            #expect(owed.count == 1)
            let owedLog = try await catalog.jobLog(id: try #require(owed.first?.id)).map(\.message)
            #expect(owedLog.contains { $0.contains("recovery point 20:00") }, "\(owedLog)")
            try await catalog.failInterruptedJobs(now: evening)
            #expect(try await scheduler().tick(now: evening.addingTimeInterval(60)).isEmpty)
        }
    }

    /// Under `--consistency-check if-inconsistent` (the default), a disk resized since the newest point queues a
    /// consistency check at once.
    @Test func aResizedDiskQueuesACheckAtOnce() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let scheduler = Scheduler(catalog: catalog, logger: Logger(label: "scheduler-test"))
            let capacity = Int64(fleet.vda.image.count + fleet.vdb.image.count)
            let now = Date()
            try await catalog.insertRecoveryPoint(
                NewRecoveryPoint(
                    vmUUID: fleet.web1, group: try ResourceName("gold", field: "group"),
                    datastore: try ResourceName("main", field: "datastore"), createdAt: now, syncKind: .full,
                    consistency: .crashConsistent, logicalBytes: capacity, storedBytes: 0, transferredBytes: 0,
                    retainUntil: now.addingTimeInterval(86_400)))
            #expect(try await scheduler.tick(now: now.addingTimeInterval(60)).isEmpty)

            _ = try await fleet.kvm1.reportInventory([
                AgentInventoryReport.VM(
                    uuid: fleet.web1, name: "web1", state: "running", guestAgentAnswering: true,
                    disks: [
                        VMView.Disk(target: "vda", format: "qcow2", capacityBytes: Int64(fleet.vda.image.count) * 2, path: "/img/vda"),
                        VMView.Disk(target: "vdb", format: "qcow2", capacityBytes: Int64(fleet.vdb.image.count), path: "/img/vdb"),
                    ])
            ])
            let queued = try await scheduler.tick(now: now.addingTimeInterval(120))
            #expect(queued.map(\.kind) == [.consistencyCheck])
            let log = try await catalog.jobLog(id: try #require(queued.first?.id)).map(\.message)
            #expect(log.contains { $0.contains("inconsistent") && $0.contains("resized") }, "\(log)")
        }
    }

    /// A disk that moved to another path (a storage migration) makes the replica inconsistent: a check at once.
    @Test func aDiskMovedToAnotherPathQueuesACheck() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let scheduler = Scheduler(catalog: catalog, logger: Logger(label: "scheduler-test"))
            let now = Date()
            try await catalog.insertRecoveryPoint(
                NewRecoveryPoint(
                    vmUUID: fleet.web1, group: try ResourceName("gold", field: "group"),
                    datastore: try ResourceName("main", field: "datastore"), createdAt: now, syncKind: .full,
                    consistency: .crashConsistent, logicalBytes: Int64(fleet.vda.image.count + fleet.vdb.image.count),
                    storedBytes: 0, transferredBytes: 0, retainUntil: now.addingTimeInterval(86_400)))
            func report(vda path: String) async throws {
                _ = try await fleet.kvm1.reportInventory([
                    AgentInventoryReport.VM(
                        uuid: fleet.web1, name: "web1", state: "running", guestAgentAnswering: true,
                        disks: [
                            VMView.Disk(target: "vda", format: "qcow2", capacityBytes: Int64(fleet.vda.image.count), path: path),
                            VMView.Disk(target: "vdb", format: "qcow2", capacityBytes: Int64(fleet.vdb.image.count), path: "/img/vdb"),
                        ])
                ])
            }
            try await report(vda: "/img/vda")
            #expect(try await scheduler.tick(now: now.addingTimeInterval(60)).isEmpty)
            try await report(vda: "/fast/vda.qcow2")
            let queued = try await scheduler.tick(now: now.addingTimeInterval(120))
            #expect(queued.map(\.kind) == [.consistencyCheck])
            let log = try await catalog.jobLog(id: try #require(queued.first?.id)).map(\.message)
            #expect(
                log.contains { $0.contains("disk vda moved from /img/vda to /fast/vda.qcow2") && $0.contains("storage migration") },
                "\(log)")
        }
    }
}
