import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import TestSupport
import Testing

extension IntegrationSuite {
    /// The scheduler in the real bulwarkd, on the real clock.
    @Suite struct SchedulerRunTests {
        /// A recovery-point time set to the coming minute makes a point by itself, through the agent; a restart of
        /// bulwarkd right after does not run that slot again.
        @Test func aRecoveryPointTimeMakesAPointUnattended() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M", schedulerInterval: 2)
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                let first = try await testbed.backup(name)
                #expect(first.state == .succeeded, "\(first.error ?? "")")

                // The test's clock and bulwarkd's share the machine's time zone. A minute boundary too close
                // would leave no time to set the policy first.
                while Calendar.current.component(.second, from: Date()) > 45 { try await Task.sleep(for: .seconds(1)) }
                let next = Date().addingTimeInterval(60)
                let parts = Calendar.current.dateComponents([.hour, .minute], from: next)
                let slot = String(format: "%02d:%02d", parts.hour!, parts.minute!)
                let _: GroupView = try await testbed.client.patch(
                    "/v1/groups/gold",
                    GroupModifyRequest(
                        policy: .init(syncFrequency: "before-recovery-point", recoveryPoints: slot, expressFull: "none")))

                try await waitUntil("the \(slot) recovery point", seconds: 180) {
                    try await testbed.points(name).count == 2
                }
                let jobs: [JobView] = try await testbed.client.get("/v1/jobs")
                let scheduled = try #require(jobs.first { $0.subject.hasSuffix(name) && $0.id != first.id })
                let done = try await testbed.wait(scheduled.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")")
                let log = try await testbed.job(scheduled.id).log?.map(\.message).joined(separator: "\n") ?? ""
                #expect(log.contains("scheduled by group gold: recovery point \(slot)"), "\(log)")

                try testbed.killAndRestartServer()
                try await Task.sleep(for: .seconds(8))
                let after: [JobView] = try await testbed.client.get("/v1/jobs")
                #expect(after.filter { $0.subject.hasSuffix(name) }.count == 2, "\(after.map { "\($0.kind) \($0.createdAt)" })")
            }
        }
    }
}
