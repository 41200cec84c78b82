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

    /// `GET /v1/jobs/{id}?wait=S` answers as soon as the job ends, whoever ends it; a job that is still running is
    /// answered as it is once the time is up; a bad wait says what it takes.
    @Test func aJobWaitAnswersWhenTheJobEnds() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let job: JobView = try await fleet.admin.post("/v1/backup", BackupRequest(vm: "kvm1/web1"))
            let task = try #require(try await fleet.kvm1.nextTask())
            let runningView: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)?wait=0.2")
            #expect(runningView.state == .running, "a running job is answered when the wait is up")

            // The wait is longer than the test allows for the finish: had the end not woken it, it would answer the
            // running job 10 s later and fail here on the state, not on a clock.
            let admin = fleet.admin
            async let waited: JobView = admin.get("/v1/jobs/\(job.id)?wait=10")
            _ = try await fleet.kvm1.send(
                .POST, "/v1/agent/tasks/\(task.id)/finish", json: AgentTaskFinish(state: .failed, error: "test"))
            let ended = try await waited
            #expect(ended.state == .failed && ended.error == "test")
            let again: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)?wait=10")
            #expect(again.state == .failed, "an ended job is answered at once")

            // A job that is not there is not waited for.
            do {
                let _: JobView = try await fleet.admin.get("/v1/jobs/\(JobID.generate())?wait=10")
                Issue.record("a wait on an unknown job was answered with a job")
            } catch {
                #expect("\(error)".contains("not found") || "\(error)".contains("no job"), "\(error)")
            }
            for wait in ["-1", "11", "soon", "nan", "inf"] {
                do {
                    let _: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)?wait=\(wait)")
                    Issue.record("wait=\(wait) was accepted")
                } catch {
                    #expect("\(error)".contains("number of seconds from 0 to 10"), "\(error)")
                }
            }
        }
    }
}
