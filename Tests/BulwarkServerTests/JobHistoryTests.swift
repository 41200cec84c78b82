import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

/// Job history is queryable by VM, group and state, and a bad filter says what is wrong.
@Suite struct JobHistoryTests {
    @Test func jobsFilterByVMGroupAndState() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let failed: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let task = try #require(try await fleet.kvm1.nextTask())
            _ = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/finish", json: AgentTaskFinish(state: .failed, error: "test"))
            let queued: [JobView] = try await fleet.admin.post("/v1/check", CheckRequest(vm: "kvm1/web1"))

            let byGroup: [JobView] = try await fleet.admin.get("/v1/jobs?group=gold")
            #expect(byGroup.map(\.id) == [queued[0].id, failed.id])
            let failures: [JobView] = try await fleet.admin.get("/v1/jobs?group=gold&state=failed")
            #expect(failures.map(\.id) == [failed.id])
            let waiting: [JobView] = try await fleet.admin.get("/v1/jobs?vm=kvm1/web1&state=queued,running")
            #expect(waiting.map(\.id) == [queued[0].id])

            for (path, expected) in [
                ("/v1/jobs?state=stuck", "not one of queued"), ("/v1/jobs?group=nosuchgroup", "nosuchgroup"),
            ] {
                do {
                    let _: [JobView] = try await fleet.admin.get(path)
                    Issue.record("\(path) was accepted")
                } catch {
                    #expect("\(error)".contains(expected), "\(error)")
                }
            }
        }
    }
}
