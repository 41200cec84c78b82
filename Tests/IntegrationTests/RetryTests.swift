import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// The job engine's retries against the real daemons: a sync that failed for a passing reason is tried again
    /// by itself after its back-off, and the retry's point restores bit-exact.
    @Suite struct RetryTests {
        /// The agent killed mid-transfer: once it is back, the lost task fails, a retry is queued, and the agent
        /// runs it unasked.
        @Test func aSyncWhoseAgentWasKilledIsTriedAgainUnasked() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K", retries: (count: 2, delay: "2s"))
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let (uuid, job) = try await startSync(testbed, guest)
                testbed.killAgent()
                try testbed.startAgent()
                let failed = try await testbed.wait(job.id, seconds: 120)
                #expect(failed.state == .failed && failed.error?.contains("restarted") == true, "\(failed.error ?? "")")

                let retry = try await retryOf(job.id, testbed)
                #expect(retry.attempt == 2 && retry.kind == "sync")
                let done = try await testbed.wait(retry.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")")
                let points = try await testbed.points(name)
                #expect(points.count == 1 && points.first?.id == done.recoveryPoint)
                let log = try await testbed.job(retry.id).log?.map(\.message).joined(separator: "\n") ?? ""
                #expect(log.contains("try 2 of 3") && log.contains(job.id), "\(log)")

                let point = try #require(points.first)
                try await guest.hypervisor.run { try $0.domain(named: name).destroy() }
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: point.id, disk: disk)
                            == (try imageDigest(path, scratch: guest.directory)),
                        "disk \(disk) of point \(point.id) does not restore bit-exact")
                }
            }
        }

        /// QEMU killed mid-transfer: the agent loses its NBD export and calls the failure transient; the retry finds
        /// the VM shut off, reads it through qemu-nbd, and its point restores bit-exact.
        @Test func aSyncWhoseQEMUWasKilledIsTriedAgainOnTheShutOffVM() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K", retries: (count: 2, delay: "2s"))
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let (uuid, job) = try await startSync(testbed, guest)
                kill(try guest.qemuPID(), SIGKILL)
                let failed = try await testbed.wait(job.id, seconds: 300)
                #expect(failed.state == .failed, "\(failed.error ?? "")")
                let retry = try await retryOf(job.id, testbed)
                let done = try await testbed.wait(retry.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")")
                let point = try #require(try await testbed.points(name).first)
                #expect(point.id == done.recoveryPoint && point.consistency == .crashConsistent)
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: point.id, disk: disk)
                            == (try imageDigest(path, scratch: guest.directory)),
                        "disk \(disk) of point \(point.id) does not restore bit-exact")
                }
            }
        }

        /// Protects the guest, has it write 32 MiB, asks for a sync and waits until its first chunks arrive.
        private func startSync(_ testbed: Testbed, _ guest: TestGuest) async throws -> (UUID, JobView) {
            let uuid = try await testbed.protect(guest.name)
            try await writeRandom(guest, at: "8M", mebibytes: 32)
            let job: JobView = try await testbed.client.post("/v1/backup", BackupRequest(vm: "\(testbed.host)/\(guest.name)"))
            try await waitUntil("the first chunks to arrive", seconds: 300) {
                (FileManager.default.enumerator(atPath: testbed.datastorePath + "/.staging")?.allObjects as? [String]
                    ?? []).count > 40
            }
            return (uuid, job)
        }

        /// The job queued to retry `id`.
        private func retryOf(_ id: String, _ testbed: Testbed) async throws -> JobView {
            var found: JobView?
            try await waitUntil("a retry of job \(id)", seconds: 30) {
                let jobs: [JobView] = try await testbed.client.get("/v1/jobs")
                found = jobs.first { $0.retryOf == id }
                return found != nil
            }
            return found!
        }
    }
}
