import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// The product end to end: bulwarkd, an enrolled bulwark-agent, the real libvirtd and a booted guest. Every
    /// point is restored from the datastore and compared with the source disk by SHA-256.
    @Suite struct AgentSyncTests {
        /// Full, incremental, nothing changed, QEMU killed (consistency check), checkpoint deleted, disk grown: each
        /// sync is of the right kind, reads what it must, and the last point restores bit-exact.
        @Test func syncsOfEveryKindRestoreBitExact() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M", policy: .init(replicaCreation: "now"))
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in try await run(testbed, guest) }
        }

        /// The job log's "N of M chunks read were recognised by their fingerprint" lines, a disk each, in order.
        private func fingerprintLines(_ log: [String]) -> [(recognised: Int, read: Int)] {
            counts(log, /: (\d+) of (\d+) chunks read were recognised by their fingerprint/).map { ($0, $1) }
        }

        /// The job log's "N of M chunks read differ from the previous point" lines, a disk each, in order.
        private func differLines(_ log: [String]) -> [(differ: Int, read: Int)] {
            counts(log, /: (\d+) of (\d+) chunks read differ from the previous point/).map { ($0, $1) }
        }

        private func counts(_ log: [String], _ pattern: Regex<(Substring, Substring, Substring)>) -> [(Int, Int)] {
            log.compactMap { line in line.firstMatch(of: pattern).map { (Int($0.1)!, Int($0.2)!) } }
        }

        private func run(_ testbed: Testbed, _ guest: TestGuest) async throws {
            let name = guest.name
            let hypervisor = guest.hypervisor
            func write(_ byte: UInt8, _ offset: String, _ length: String) async throws {
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: byte, offset: offset, length: length) }
            }

            // 1. Full: the initial replica joining the group (replica creation now) queued; every allocated block;
            // the guest agent answers, so the point is application-consistent.
            try await write(0xab, "1M", "128k")
            let uuid = try await testbed.protect(name)
            let full = try await testbed.wait(try await testbed.initialReplica(name).id)
            #expect(full.state == .succeeded, "\(full.error ?? "")")
            var points = try await testbed.points(name)
            #expect(points.count == 1)
            #expect(points.first?.syncKind == .full)
            #expect(points.first?.consistency == .applicationConsistent)

            // 2. Incremental: one 64 KiB write inside one 1 MiB chunk: exactly that chunk is read.
            try await write(0xcd, "5M", "64k")
            let incremental = try await testbed.backup(name)
            #expect(incremental.state == .succeeded, "\(incremental.error ?? "")")
            #expect(incremental.bytes?.bytesScanned == 1 << 20)
            points = try await testbed.points(name)
            #expect(points.first?.syncKind == .incremental)
            #expect((points.first?.transferredBytes ?? .max) < 1 << 20)

            // 3. Nothing changed: nothing read, nothing sent.
            let idle = try await testbed.backup(name)
            #expect(idle.state == .succeeded)
            #expect(idle.bytes?.bytesScanned == 0)
            #expect(idle.bytes?.bytesSent == 0)

            // 3b. An admin's consistency check: reads everything allocated, sends nothing (nothing differs), makes
            // a point of its own kind, and raises no alert (nobody needs telling about what they asked for).
            let checked = try await testbed.check(name)
            #expect(checked.state == .succeeded, "\(checked.error ?? "")")
            #expect((checked.bytes?.bytesScanned ?? 0) > 0)
            #expect(checked.bytes?.bytesSent == 0)
            #expect(try await testbed.points(name).first?.syncKind == .consistencyCheck)
            let quiet: [AlertView] = try await testbed.client.get("/v1/alerts")
            #expect(!quiet.contains { $0.kind == "replica-inconsistent" }, "\(quiet)")
            // Every chunk it read had been hashed by an earlier sync: each is recognised by its fingerprint, none
            // hashed again.
            let checkedLog = try await testbed.job(checked.id).log?.map(\.message) ?? []
            // The chain was sound, so its checkpoint stayed until the check's point committed.
            #expect(!checkedLog.contains { $0.hasPrefix("deleted checkpoint") }, "\(checkedLog)")
            let checkedPrints = fingerprintLines(checkedLog)
            #expect(checkedPrints.count == 2 && checkedPrints.allSatisfy { $0.recognised == $0.read && $0.read > 0 }, "\(checkedLog)")

            // 4. A checkpoint deleted behind Bulwark's back: a consistency check, not a failure.
            // The agent prunes the older checkpoint just after the commit: one checkpoint, the newest point's.
            var checkpoints: [String] = []
            try await waitUntil("the agent to prune old checkpoints", seconds: 30) {
                checkpoints = try await hypervisor.run { try $0.domain(named: name).checkpoints().map(\.name) }
                return checkpoints.count == 1
            }
            let stale = checkpoints[0]
            try await hypervisor.run { try $0.domain(named: name).checkpoint(named: stale).delete() }
            try await write(0x11, "7M", "64k")
            // And a chunk the last check fingerprinted changes: the memo must not pass it off as the old one.
            try await write(0x22, "5M", "64k")
            let afterDelete = try await testbed.backup(name)
            #expect(afterDelete.state == .succeeded, "\(afterDelete.error ?? "")")
            points = try await testbed.points(name)
            #expect(points.first?.syncKind == .consistencyCheck)
            let deleteLog = try await testbed.job(afterDelete.id).log?.map(\.message).joined(separator: "\n") ?? ""
            #expect(deleteLog.contains("missing"), "\(deleteLog)")
            let deleteLines = try await testbed.job(afterDelete.id).log?.map(\.message) ?? []
            let (deletePrints, deleteDiffers) = (fingerprintLines(deleteLines), differLines(deleteLines))
            // vda: the chunks at 5M and 7M differ and were hashed; the one at 1M was recognised.
            #expect(deleteDiffers.first.map { $0.differ >= 2 } == true, "\(deleteLog)")
            #expect(deletePrints.first.map { $0.recognised >= 1 } == true, "\(deleteLog)")
            #expect(zip(deletePrints, deleteDiffers).allSatisfy { $0.read - $0.recognised >= $1.differ }, "\(deleteLog)")

            // 5. QEMU killed between syncs: bitmaps left in use; the next sync is a consistency check.
            kill(try guest.qemuPID(), SIGKILL)
            try await waitUntil("QEMU of \(name) to be gone", seconds: 60) {
                try await hypervisor.run { try !$0.domain(named: name).state().isActive }
            }
            // While it is down, a stale Bulwark bitmap no checkpoint names, and an admin's own bitmap, get into
            // vda: the consistency check removes the first and leaves the second alone.
            for bitmap in ["bulwark-orphan", "admin-own"] {
                try ChildProcess.run("qemu-img", ["bitmap", "--add", guest.vdaPath, bitmap])
            }
            try await hypervisor.run { try $0.domain(named: name).start() }
            try await guest.waitUntilReady(count: 2)
            try await write(0x5a, "9M", "64k")
            let afterKill = try await testbed.backup(name)
            #expect(afterKill.state == .succeeded, "\(afterKill.error ?? "")")
            points = try await testbed.points(name)
            #expect(points.first?.syncKind == .consistencyCheck)
            let killLog = try await testbed.job(afterKill.id).log?.map(\.message).joined(separator: "\n") ?? ""
            #expect(killLog.contains("inconsistent"), "\(killLog)")
            #expect(killLog.contains("removed stale bitmap bulwark-orphan"), "\(killLog)")
            #expect(!killLog.contains("admin-own"), "\(killLog)")
            // The memo of fingerprints spared hashing the chunks that did not change, and never hid one that did: the
            // chunk written at 9M differs from the previous point, and it was hashed.
            let killLines = try await testbed.job(afterKill.id).log?.map(\.message) ?? []
            let killPrints = fingerprintLines(killLines)
            let killDiffers = differLines(killLines)
            #expect(killPrints.count == 2 && killPrints.reduce(0) { $0 + $1.recognised } > 0, "\(killLog)")
            #expect(killDiffers.reduce(0) { $0 + $1.differ } >= 1, "\(killLog)")
            #expect(zip(killPrints, killDiffers).allSatisfy { $0.read - $0.recognised >= $1.differ }, "\(killLog)")
            let alerts: [AlertView] = try await testbed.client.get("/v1/alerts")
            #expect(
                alerts.contains { $0.kind == "replica-inconsistent" && $0.severity == "information" && $0.message.contains("inconsistent") },
                "\(alerts)")

            // 6. The disk grown between syncs: a consistency check of the new size.
            try ChildProcess.run("virsh", ["-c", systemURI, "blockresize", name, "vda", "80M"])
            try await write(0x77, "70M", "64k")
            let afterGrow = try await testbed.backup(name)
            #expect(afterGrow.state == .succeeded, "\(afterGrow.error ?? "")")
            points = try await testbed.points(name)
            #expect(points.first?.syncKind == .consistencyCheck)
            #expect(points.first?.logicalBytes ?? 0 > 80 << 20)

            // 7. Then an incremental again, and the last point restores bit-exact once QEMU no longer writes.
            try await write(0x99, "3M", "64k")
            let last = try await testbed.backup(name)
            #expect(last.state == .succeeded, "\(last.error ?? "")")
            points = try await testbed.points(name)
            #expect(points.first?.syncKind == .incremental)
            let open: [AlertView] = try await testbed.client.get("/v1/alerts")
            #expect(!open.contains { $0.kind == "replica-inconsistent" }, "an incremental resolves the alert: \(open)")
            let point = try #require(points.first)
            try await hypervisor.run { try $0.domain(named: name).destroy() }
            let header = try ChildProcess.run("qemu-img", ["info", "--output=json", guest.vdaPath])
            #expect(!header.contains("bulwark-orphan") && header.contains("admin-own"), "\(header)")
            for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                let source = try imageDigest(path, scratch: guest.directory)
                let restored = try testbed.restoredDigest(vm: uuid, point: point.id, disk: disk)
                #expect(restored == source, "disk \(disk) of point \(point.id) does not restore bit-exact")
            }
            let verify: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
            let verified = verify.allSatisfy(\.ok)
            #expect(verified, "\(verify)")
            // Whatever the daemons logged, no private key is in it.
            for file in [testbed.agentLog, testbed.serverLog] {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                #expect(!text.contains("PRIVATE KEY"), "\(file) holds a private key")
            }
        }

        /// The agent killed with SIGKILL mid-transfer: the job fails once the agent is back, no point appears, and
        /// the next sync completes without sending again the chunks the first one uploaded.
        @Test func agentKilledMidTransferLeavesNoPoint() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                try await writeRandom(guest, at: "8M", mebibytes: 48)
                let job: JobView = try await testbed.client.post("/v1/backup", BackupRequest(vm: "\(testbed.host)/\(name)"))
                // Uploads are staged per job until the job ends (Datastore+Staging), then join the chunks.
                func chunkCount() -> Int {
                    ["/.chunks", "/.staging"].reduce(0) { count, folder in
                        count
                            + (FileManager.default.enumerator(atPath: testbed.datastorePath + folder)?.allObjects
                                as? [String] ?? []).filter { $0.count > 60 && !$0.contains(".tmp") }.count
                    }
                }
                try await waitUntil("the first chunks to arrive", seconds: 300) { chunkCount() >= 40 }
                testbed.killAgent()
                let uploadedBeforeKill = chunkCount()
                #expect(uploadedBeforeKill < 768, "the sync finished before the agent could be killed")

                try testbed.startAgent()
                let failed = try await testbed.wait(job.id, seconds: 120)
                #expect(failed.state == .failed)
                #expect(failed.error?.contains("restarted") == true, "\(failed.error ?? "")")
                #expect(try await testbed.points(name).isEmpty)

                let retry = try await testbed.backup(name)
                #expect(retry.state == .succeeded, "\(retry.error ?? "")\n\(testbed.diagnostics())")
                let points = try await testbed.points(name)
                #expect(points.count == 1)
                // 768 distinct random chunks of 64 KiB; those uploaded before the kill are not sent again.
                let sent = retry.bytes?.bytesSent ?? .max
                #expect(sent <= Int64(768 - uploadedBeforeKill) * (64 << 10 + 64) + (1 << 20), "sent \(sent)")
            }
        }

        /// The server unreachable mid-transfer (every connection to it reset for a few seconds): the agent retries
        /// with back-off and the same task completes with a point.
        @Test func serverUnreachableMidTransferLosesNoTask() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K")
            defer { testbed.stop() }
            try await withGuest { guest in
                let address = try String(contentsOfFile: testbed.directory.file("server/address"), encoding: .utf8)
                guard let port = URL(string: address.trimmingCharacters(in: .whitespacesAndNewlines))?.port else {
                    throw TestFailure("no port in \(address)")
                }
                let rule = ["INPUT", "-p", "tcp", "--dport", "\(port)", "-j", "REJECT", "--reject-with", "tcp-reset"]
                do {
                    let name = guest.name
                    _ = try await testbed.protect(name)
                    try await writeRandom(guest, at: "8M", mebibytes: 32)
                    let job: JobView = try await testbed.client.post("/v1/backup", BackupRequest(vm: "\(testbed.host)/\(name)"))
                    let staging = testbed.datastorePath + "/.staging"
                    try await waitUntil("the first chunks to arrive", seconds: 300) {
                        (FileManager.default.enumerator(atPath: staging)?.allObjects as? [String] ?? []).count > 40
                    }
                    try ChildProcess.run("iptables", ["-I"] + rule)
                    try await Task.sleep(for: .seconds(4))
                    try ChildProcess.run("iptables", ["-D"] + rule)
                    let done = try await testbed.wait(job.id, seconds: 600)
                    #expect(done.state == .succeeded, "\(done.error ?? "")")
                    #expect(try await testbed.points(name).count == 1)
                    let log = try String(contentsOfFile: testbed.agentLog, encoding: .utf8)
                    #expect(log.contains("retrying"), "the agent never had to retry: the outage missed the transfer")
                } catch {
                    _ = try? ChildProcess.run("iptables", ["-D"] + rule)
                    Issue.record("\(error)\n\(testbed.diagnostics())")
                }
            }
        }

        /// An admin's check that does not commit (cancelled once the agent runs it) leaves the chain it checked: the
        /// checkpoint the catalog trusts is still on the domain, the check's own is gone, and the next sync is an
        /// incremental.
        @Test func aCheckThatDoesNotCommitKeepsTheChain() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                try await writeRandom(guest, at: "8M", mebibytes: 48)
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")
                var checkpoints: [String] = []
                try await waitUntil("the agent to prune old checkpoints", seconds: 30) {
                    checkpoints = try await guest.hypervisor.run { try $0.domain(named: name).checkpoints().map(\.name) }
                    return checkpoints.count == 1
                }

                let jobs: [JobView] = try await testbed.client.post("/v1/check", CheckRequest(vm: "\(testbed.host)/\(name)"))
                let check = jobs[0]
                // Cancelled as soon as the agent has it: the agent stops at the next chunk, or the server refuses its
                // commit; either way no point is made.
                try await waitUntil("the agent to claim the check", seconds: 60, interval: 0.005) {
                    try await testbed.job(check.id).state != .queued
                }
                let _: JobView = try await testbed.client.post("/v1/jobs/\(check.id)/cancel", [String: String]())
                let ended = try await testbed.wait(check.id)
                #expect(ended.state == .cancelled, "\(ended.state) \(ended.error ?? "") \(ended.log?.map(\.message) ?? [])")
                #expect(try await testbed.points(name).count == 1)
                let after = try await guest.hypervisor.run { try $0.domain(named: name).checkpoints().map(\.name) }
                #expect(after == checkpoints, "the check's own checkpoint must go and the chain's stay: \(after)")

                try await writeRandom(guest, at: "60M", mebibytes: 1)
                let next = try await testbed.backup(name)
                #expect(next.state == .succeeded, "\(next.error ?? "")")
                #expect(try await testbed.points(name).first?.syncKind == .incremental)
                #expect((next.bytes?.bytesScanned ?? .max) <= 2 << 20, "\(String(describing: next.bytes))")
            }
        }

        /// A shut-off VM is backed up through qemu-nbd (crash-consistent) and restores bit-exact; a VM undefined
        /// while protected fails its sync with an error that names it; a policy requiring quiesce fails clearly
        /// when the guest agent does not answer.
        @Test func shutOffVMAndFaults() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M", policy: .init(quiesce: "required"))
            defer { testbed.stop() }
            try await withGuest(on: testbed, kernelArguments: ["bulwark.agent=0"]) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                let hypervisor = guest.hypervisor
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x42, offset: "2M", length: "256k") }

                let refused = try await testbed.backup(name)
                #expect(refused.state == .failed)
                #expect(refused.error?.contains("guest agent") == true, "\(refused.error ?? "")")
                #expect(try await testbed.points(name).isEmpty)

                // With --quiesce auto the same VM gets a crash-consistent point and a checkpoint.
                let _: GroupView = try await testbed.client.patch(
                    "/v1/groups/gold", GroupModifyRequest(policy: .init(quiesce: "auto")))
                let online = try await testbed.backup(name)
                #expect(online.state == .succeeded, "\(online.error ?? "")")
                #expect(try await testbed.points(name).first?.consistency == .crashConsistent)
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x43, offset: "6M", length: "64k") }

                // Shut off: read through qemu-nbd with the checkpoint's bitmap, only the changed chunk.
                try await hypervisor.run { try $0.domain(named: name).destroy() }
                let offline = try await testbed.backup(name)
                #expect(offline.state == .succeeded, "\(offline.error ?? "")")
                #expect(offline.bytes?.bytesScanned == 1 << 20)
                let point = try #require(try await testbed.points(name).first)
                #expect(point.consistency == .crashConsistent)
                #expect(point.syncKind == .incremental)
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: point.id, disk: disk)
                            == (try imageDigest(path, scratch: guest.directory)))
                }

                // Undefined while protected: once the inventory shows it missing, a sync is refused by name.
                try await hypervisor.run { try $0.domain(named: name).undefine() }
                try await waitUntil("the inventory to show \(name) missing", seconds: 60) {
                    let vms: [VMView] = try await testbed.client.get("/v1/vms")
                    return vms.first { $0.name == name }?.state == "missing"
                }
                let gone = await #expect(throws: ClientError.self) { try await testbed.backup(name) }
                #expect(gone?.message.contains(name) == true, "\(gone?.message ?? "")")
                let kept: [RecoveryPointView] = try await testbed.client.get("/v1/points?vm=\(uuid.uuidString)")
                #expect(kept.count == 2)
            }
        }
    }
}
