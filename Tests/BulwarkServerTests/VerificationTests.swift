import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// Verification as bulwarkd runs it: new points soon after their commit, every point again after the re-verify
/// interval, damage found and recorded, each run a `verify` job with its log; and a datastore that goes away
/// raises an alert until it is back.
@Suite struct VerificationTests {
    /// One full sync of web1 through the agent protocol; returns the point's id.
    static func backUp(_ fleet: AgentProtocolTests.Fleet) async throws -> RecoveryPointID {
        let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
        let task = try #require(try await fleet.kvm1.nextTask())
        let (sent, _) = try await AgentProtocolTests.upload([fleet.vda, fleet.vdb], task: task.id, as: fleet.kvm1)
        let result = try await fleet.kvm1.send(
            .POST, "/v1/agent/tasks/\(task.id)/commit",
            json: AgentProtocolTests.commit([fleet.vda, fleet.vdb], checkpoint: "bulwark-1", sent: sent)
        ).decode(AgentCommitResult.self)
        return try RecoveryPointID(parsing: result.pointID)
    }

    @Test func newPointsAreVerifiedAndEveryPointAgainLater() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let id = try await Self.backUp(fleet)
            let now = Date()
            let verification = Verification(
                catalog: catalog, stores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                interval: .seconds(1), newPoints: true,
                reverifyAfter: try TimeSpan(parsing: "7d"), logger: Logger(label: "verification-test"))
            let run = try #require(try await verification.pass(now: now))
            #expect(run.job.kind == .verify && run.job.state == .succeeded)
            #expect(run.reports.map(\.ok) == [true] && run.reports.first?.job == run.job.id.description)
            #expect(try await catalog.recoveryPoint(id: id).state == .verified)
            #expect(abs(try #require(try await catalog.lastVerified(point: id)).timeIntervalSince(now)) < 0.01)
            let log = try await catalog.jobLog(id: run.job.id).map(\.message)
            #expect(log.contains { $0.contains("datastore main: 1 points") && $0.contains("0 damaged chunks") }, "\(log)")

            // Nothing is owed until the re-verify interval has passed.
            #expect(try await verification.pass(now: now.addingTimeInterval(6 * 86_400)) == nil)
            let week = now.addingTimeInterval(7 * 86_400)
            #expect(try await verification.pass(now: week)?.job.state == .succeeded)
            #expect(abs(try #require(try await catalog.lastVerified(point: id)).timeIntervalSince(week)) < 0.01)

            // A chunk damaged on disk: the next re-verify finds it, names it, and marks the point damaged.
            let chunk = try #require(try Self.chunkFiles(fleet.storePath).first)
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: chunk)))
            bytes[bytes.count - 1] ^= 0xff
            try Data(bytes).write(to: URL(fileURLWithPath: chunk))
            let damaged = try #require(try await verification.pass(now: week.addingTimeInterval(7 * 86_400)))
            #expect(damaged.job.state == .succeededWithWarnings && damaged.job.error?.contains("1 damaged points") == true)
            #expect(damaged.reports.first?.damagedPoints == ["\(fleet.web1.uuidString.lowercased())/\(id)"])
            #expect(try await catalog.recoveryPoint(id: id).state == .damaged)
            let damagedLog = try await catalog.jobLog(id: damaged.job.id).map(\.message)
            let digest = URL(fileURLWithPath: chunk).lastPathComponent
            #expect(damagedLog.contains { $0.contains("chunk \(digest)") && $0.contains("moved aside") }, "\(damagedLog)")

            // An admin's verify is a job too.
            let reports: [MaintenanceReport] = try await fleet.admin.post("/v1/verify?datastore=main", [String: String]())
            let job: JobView = try await fleet.admin.get("/v1/jobs/\(try #require(reports.first?.job))")
            #expect(job.kind == "verify" && job.subject == "datastore main" && job.state == .succeededWithWarnings)

            // Alerts say so; the next sync stores the lost chunk again, which makes the old point whole, and the
            // next verify resolves both alerts.
            let monitor = AlertMonitor(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")), interval: .seconds(1), webhook: nil, logger: Logger(label: "alerts-test"),
                space: { _ in (10, 100) })
            let raised = Set(try await monitor.pass(now: Date()).map { "\($0.kind) \($0.subject)" })
            #expect(raised.isSuperset(of: ["job-warnings verify jobs", "recovery-point-damaged vm kvm1/web1"]), "\(raised)")
            let second = try await Self.backUp(fleet)
            let clean = try #require(try await verification.pass(now: Date().addingTimeInterval(60 * 86_400)))
            #expect(clean.job.state == .succeeded, "\(clean.reports)")
            #expect(try await catalog.recoveryPoint(id: id).state == .verified)
            #expect(try await catalog.recoveryPoint(id: second).state == .verified)
            _ = try await monitor.pass(now: Date())
            let open = try await catalog.alerts().map { "\($0.kind) \($0.subject)" }
            #expect(!open.contains("job-warnings verify jobs") && !open.contains("recovery-point-damaged vm kvm1/web1"), "\(open)")
        }
    }

    @Test func withoutVerifyNewOnlyOldPointsAreVerified() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let id = try await Self.backUp(fleet)
            let verification = Verification(
                catalog: catalog, stores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                interval: .seconds(1), newPoints: false,
                reverifyAfter: try TimeSpan(parsing: "1d"), logger: Logger(label: "verification-test"))
            #expect(!Verification(
                catalog: catalog, stores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                interval: .seconds(1), newPoints: false, reverifyAfter: nil,
                logger: Logger(label: "off")).isEnabled)
            #expect(try await verification.pass(now: Date()) == nil)
            #expect(try await catalog.recoveryPoint(id: id).state == .committed)
            #expect(try await verification.pass(now: Date().addingTimeInterval(86_401))?.job.state == .succeeded)
            #expect(try await catalog.recoveryPoint(id: id).state == .verified)
        }
    }

    @Test func aDatastoreThatGoesAwayRaisesAnAlertUntilItIsBack() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let monitor = AlertMonitor(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")), interval: .seconds(1), webhook: nil, logger: Logger(label: "alerts-test"),
                space: { _ in (10, 100) })
            let now = Date()
            #expect(try await monitor.pass(now: now).isEmpty)
            let aside = fleet.storePath + ".unmounted"
            try FileManager.default.moveItem(atPath: fleet.storePath, toPath: aside)
            let raised = try await monitor.pass(now: now)
            #expect(raised.map(\.kind) == [.datastoreUnavailable] && raised.first?.severity == .critical)
            #expect(raised.first?.subject == "datastore main" && raised.first?.message.contains(fleet.storePath) == true)
            // A sync asked for meanwhile fails with the reason, and an admin's verify says it cannot run.
            let _: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            #expect(try await fleet.kvm1.nextTask() == nil)
            let failed = try #require(try await catalog.jobs(JobFilter(vmUUID: fleet.web1)).first)
            #expect(failed.state == .failed && failed.error?.contains("cannot be opened") == true)
            let reports: [MaintenanceReport] = try await fleet.admin.post("/v1/verify", [String: String]())
            #expect(reports.map(\.ok) == [false] && reports.first?.summary.contains("cannot run") == true)

            try FileManager.default.moveItem(atPath: aside, toPath: fleet.storePath)
            _ = try await monitor.pass(now: now.addingTimeInterval(1))
            #expect(try await catalog.alerts().filter { $0.kind == .datastoreUnavailable }.isEmpty)
            _ = try await Self.backUp(fleet)
        }
    }

    static func chunkFiles(_ store: String) throws -> [String] {
        let root = "\(store)/.chunks"
        var files: [String] = []
        for folder in try FileManager.default.contentsOfDirectory(atPath: root).sorted() {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(folder)").sorted()
            where name.count == 64 {
                files.append("\(root)/\(folder)/\(name)")
            }
        }
        return files
    }
}
