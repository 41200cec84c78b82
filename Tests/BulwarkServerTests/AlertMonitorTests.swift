import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Logging
import Synchronization
import Testing

@testable import BulwarkServer

/// Alerts appear when something is wrong and resolve themselves when it is not; each new one reaches the webhook
/// once.
@Suite struct AlertMonitorTests {
    @Test func alertsAppearResolveAndArePostedOnce() async throws {
        try await Webhook<AlertView>.with { url, hook in try await run(webhook: url, inbox: hook) }
    }

    /// Agents' certificates (valid two years) raise an alert 30 days before they run out, critical in the last 7.
    @Test func anAgentCertificateNearItsEndRaisesAnAlert() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let monitor = AlertMonitor(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")), interval: .seconds(1), webhook: nil, logger: Logger(label: "alerts-test"),
                space: { _ in (50, 100) })
            func expiring(at date: Date) async throws -> [AlertInfo] {
                _ = try await monitor.pass(now: date)
                return try await catalog.alerts().filter { $0.kind == .agentCertificateExpiring }.sorted { $0.subject < $1.subject }
            }
            let now = Date()
            #expect(try await expiring(at: now).isEmpty)
            let soon = try await expiring(at: now.addingTimeInterval(2 * 365 * 86_400 - 20 * 86_400))
            #expect(soon.map(\.subject) == ["agent kvm1", "agent kvm2"] && soon.allSatisfy { $0.severity == .warning })
            #expect(soon.first?.message.contains("bulwark agent token --host kvm1 --reenroll") == true)
            let late = try await expiring(at: now.addingTimeInterval(2 * 365 * 86_400 - 3 * 86_400))
            #expect(late.allSatisfy { $0.severity == .critical } && late.count == 2)
        }
    }

    private func run(webhook: URL, inbox: Webhook<AlertView>) async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let usage = Mutex<(used: UInt64, total: UInt64)>((50, 100))
            let monitor = AlertMonitor(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")), interval: .seconds(1), webhook: webhook, logger: Logger(label: "alerts-test"),
                space: { _ in usage.withLock { $0 } })
            func open() async throws -> [String: AlertInfo] {
                Dictionary(try await catalog.alerts().map { ("\($0.kind) \($0.subject)", $0) }, uniquingKeysWith: { a, _ in a })
            }
            let now = Date()
            let gold = try ResourceName("gold", field: "group")
            let main = try ResourceName("main", field: "datastore")
            func point(at date: Date) -> NewRecoveryPoint {
                NewRecoveryPoint(
                    vmUUID: fleet.web1, group: gold, datastore: main, createdAt: date, syncKind: .full,
                    consistency: .crashConsistent, logicalBytes: 0, storedBytes: 0, transferredBytes: 0,
                    retainUntil: date.addingTimeInterval(86_400))
            }

            // gold makes replicas by hand (manual): a VM without a point owes nothing yet.
            #expect(try await monitor.pass(now: now).isEmpty)

            // A point 31 minutes old with a 15-minute sync frequency: overdue; a new point resolves it.
            try await catalog.insertRecoveryPoint(point(at: now.addingTimeInterval(-31 * 60)))
            let overdue = try await monitor.pass(now: now)
            #expect(overdue.map(\.kind) == [.syncOverdue] && overdue.first?.subject == "vm kvm1/web1")
            #expect(overdue.first?.severity == .warning && overdue.first?.message.contains("15 min") == true)
            try await catalog.insertRecoveryPoint(point(at: now))
            #expect(try await monitor.pass(now: now).isEmpty)
            #expect(try await open()["sync-overdue vm kvm1/web1"] == nil)

            // A failed sync: critical, naming the reason; the next successful one resolves it.
            let failing = try await catalog.createTask(NewTask(vmUUID: fleet.web1, command: .sync))
            _ = try await catalog.claimTask(host: "kvm1")
            try await catalog.finishTask(id: failing.id, host: "kvm1", state: .failed, error: "disk vda vanished")
            let failed = try await monitor.pass(now: now)
            #expect(failed.map(\.kind) == [.syncFailed] && failed.first?.severity == .critical)
            #expect(failed.first?.message.contains("disk vda vanished") == true)
            let next = try await catalog.createTask(NewTask(vmUUID: fleet.web1, command: .sync))
            _ = try await catalog.claimTask(host: "kvm1")
            var good = point(at: now.addingTimeInterval(1))
            good.id = RecoveryPointID.generate()
            try await catalog.commitTask(id: next.id, host: "kvm1", point: good, checkpoint: nil)
            #expect(try await monitor.pass(now: now).isEmpty)
            #expect(try await open()["sync-failed vm kvm1/web1"] == nil)

            // A damaged point, until it is gone.
            try await catalog.updateRecoveryPointState(id: good.id, to: .damaged)
            let damaged = try await monitor.pass(now: now)
            #expect(damaged.map(\.kind) == [.recoveryPointDamaged] && damaged.first?.message.contains(good.id.description) == true)
            try await catalog.deleteRecoveryPoint(id: good.id)
            _ = try await monitor.pass(now: now)
            #expect(try await open()["recovery-point-damaged vm kvm1/web1"] == nil)

            // The datastore filling up: a warning at 80%, the same alert critical at 95%, resolved below 80%.
            usage.withLock { $0 = (85, 100) }
            let low = try await monitor.pass(now: now)
            #expect(low.map(\.kind) == [.datastoreLowSpace] && low.first?.severity == .warning)
            #expect(low.first?.subject == "datastore main")
            usage.withLock { $0 = (96, 100) }
            #expect(try await monitor.pass(now: now).isEmpty, "the open alert is updated, not raised again")
            #expect(try await open()["datastore-low-space datastore main"]?.severity == .critical)
            usage.withLock { $0 = (50, 100) }
            _ = try await monitor.pass(now: now)
            #expect(try await open().isEmpty)

            // Each alert that opened reached the webhook exactly once.
            let posted = inbox.bodies.withLock { $0 }
            #expect(posted.map(\.kind) == ["sync-overdue", "sync-failed", "recovery-point-damaged", "datastore-low-space"])
            #expect(Set(posted.map(\.id)).count == 4)
        }
    }
}
