import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// A protected VM that moves to another host keeps its change tracking.
    @Suite struct HostMoveTests {
        /// The VM's host changes (its first agent goes silent, a second one on another host name reports it, and an
        /// admin confirms the move, since a claim alone moves nothing) and the destination lacks the checkpoint's
        /// libvirt metadata, as after a migration that does not carry
        /// checkpoints. The next sync redefines the checkpoint from the catalog's XML and stays incremental, and
        /// its point restores bit-exact.
        @Test func movedVMStaysIncrementalThroughRedefinedCheckpoint() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            var second: ChildProcess?
            defer {
                second?.signal(SIGTERM)
                second?.kill()
            }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                let hypervisor = guest.hypervisor
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x11, offset: "1M", length: "128k") }
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")

                // The VM "moves": its host's agent is gone, another host's agent reports it.
                testbed.killAgent()
                let token: EnrollmentTokenView = try await testbed.client.post("/v1/agents/tokens", EnrollmentTokenRequest(host: "otherhost"))
                let url = try String(contentsOfFile: testbed.directory.file("server/address"), encoding: .utf8)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                let state = testbed.directory.file("agent2")
                try ChildProcess.run(
                    productPath("bulwark-agent"),
                    ["enroll", "--server", url, "--token", token.token, "--name", "otherhost", "--state-dir", state])
                second = try ChildProcess(
                    productPath("bulwark-agent"), ["run", "--state-dir", state, "--libvirt", systemURI, "--log-level", "debug"],
                    logFile: testbed.directory.file("agent2.log"))
                // A second host's word does not move the VM: its report is a claim, with an alert, while the
                // catalog keeps the VM with testhost (whose agent is silent, not gone: silence is no evidence).
                try await waitUntil("otherhost to claim \(name)", seconds: 60) {
                    let alerts: [AlertView] = try await testbed.client.get("/v1/alerts")
                    return alerts.contains { $0.kind == "vm-claim-conflict" && $0.message.contains("'otherhost'") }
                }
                let claimed: [VMView] = try await testbed.client.get("/v1/vms")
                #expect(claimed.first { $0.uuid == uuid }?.host == "testhost", "a claim does not move the VM")
                // The admin confirms the move.
                let moved: VMView = try await testbed.client.post(
                    "/v1/vms/move", VMMoveRequest(vm: uuid.uuidString, toHost: "otherhost"))
                #expect(moved.host == "otherhost")
                let settled: [AlertView] = try await testbed.client.get("/v1/alerts")
                #expect(!settled.contains { $0.kind == "vm-claim-conflict" })
                // The destination has the disks' bitmaps but not libvirt's checkpoint metadata.
                let byUUID = "/v1/points?vm=\(uuid.uuidString.lowercased())"
                let earlier: [RecoveryPointView] = try await testbed.client.get(byUUID)
                let before = try #require(earlier.first)
                try await hypervisor.run { connection in
                    for checkpoint in try connection.domain(named: name).checkpoints() {
                        try checkpoint.delete(metadataOnly: true)
                    }
                }
                #expect(try await hypervisor.run { try $0.domain(named: name).checkpoints().isEmpty })

                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x22, offset: "5M", length: "64k") }
                let synced: JobView = try await testbed.client.post("/v1/backup", BackupRequest(vm: "otherhost/\(name)"))
                let done = try await testbed.wait(synced.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")")
                let detail: JobView = try await testbed.client.get("/v1/jobs/\(synced.id)")
                let log = (detail.log ?? []).map(\.message).joined(separator: "\n")
                #expect(log.contains("redefined checkpoint") && log.contains("made on host testhost"), "\(log)")
                #expect(log.contains("claimed by the agent on otherhost"), "\(log)")
                let points: [RecoveryPointView] = try await testbed.client.get(byUUID)
                let point = try #require(points.first)
                #expect(point.id != before.id && point.syncKind == .incremental)
                #expect(done.bytes?.bytesScanned == 1 << 20, "an incremental reads the one changed chunk")

                try await hypervisor.run { try $0.domain(named: name).destroy() }
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: point.id, disk: disk)
                            == (try imageDigest(path, scratch: guest.directory)), "disk \(disk) after the move")
                }
            }
        }
    }
}
