import Foundation
import Libvirt
import NBD
import TestSupport
import Testing

extension IntegrationSuite {
    /// What goes wrong on real hosts, against the real libvirtd: no guest agent, a missing checkpoint, QEMU killed.
    @Suite struct FaultTests {
        /// A guest without an agent: quiescing fails with a typed error and leaves nothing; a full backup reads what the
        /// guest wrote at boot; an incremental from a checkpoint that does not exist fails and leaves no job; after QEMU
        /// is killed, the checkpoint's bitmap is inconsistent and libvirt's code 109 arrives as `checkpointInconsistent`.
        @Test func missingAgentMissingCheckpointAndKilledQEMU() async throws {
            try await withGuest(kernelArguments: ["bulwark.agent=0", "bulwark.write=vda:2048:64:5a"]) { guest in
                let name = guest.name
                let hypervisor = guest.hypervisor
                let events = try await hypervisor.lifecycleEvents()
                let vdaOnly = CheckpointDefinition(name: "c1", bitmapDisks: ["vda"], excludedDisks: ["vdb"])
                func backup(_ tag: String, from checkpoint: String?) -> BackupDefinition {
                    BackupDefinition(
                        incremental: checkpoint, socketPath: guest.directory.file("\(tag).sock"),
                        disks: [.init(name: "vda", scratchFile: guest.directory.file("\(tag)-scratch.qcow2"))],
                        excludedDisks: ["vdb"])
                }

                // No agent: not answering, and a quiesced checkpoint is refused without leaving a checkpoint behind.
                #expect(try await hypervisor.run { try !$0.domain(named: name).isGuestAgentAnswering(timeout: 2) })
                let quiesce = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { _ = try $0.domain(named: name).createCheckpoint(vdaOnly, quiesce: true) }
                }
                #expect(quiesce?.code == .agentUnresponsive, "\(String(describing: quiesce))")
                #expect(quiesce?.description.contains(name) == true)
                #expect(try await hypervisor.run { try $0.domain(named: name).checkpoints().count } == 0)

                // A full backup with a new checkpoint: the export holds the guest's boot-time write.
                let full = backup("full", from: nil)
                try await hypervisor.run { try $0.domain(named: name).beginBackup(full, checkpoint: vdaOnly) }
                do {
                    let nbd = try NBDConnection(.unix(path: full.socketPath, export: "vda"), metaContexts: [MetaContext.baseAllocation])
                    #expect(try nbd.read(offset: 2 * mib, length: 65536) == [UInt8](repeating: 0x5a, count: 65536))
                    let data = try #require(try nbd.blockStatus(0..<nbd.size)[MetaContext.baseAllocation]).filter { !$0.isZero }
                    #expect(data.contains { $0.range.contains(2 * mib) })
                }
                try await hypervisor.run { try $0.domain(named: name).abortJob() }

                // An incremental from a checkpoint the domain does not have.
                let missing = backup("missing", from: "no-such-checkpoint")
                let noCheckpoint = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { try $0.domain(named: name).beginBackup(missing) }
                }
                #expect(noCheckpoint?.code == .noCheckpoint, "\(String(describing: noCheckpoint))")
                #expect(noCheckpoint?.message.contains("no-such-checkpoint") == true)
                #expect(try await hypervisor.run { try $0.domain(named: name).jobStats().isActive } == false)
                #expect(!FileManager.default.fileExists(atPath: missing.scratchFiles[0]))
                let lookup = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { _ = try $0.domain(named: name).checkpoint(named: "no-such-checkpoint") }
                }
                #expect(lookup?.code == .noCheckpoint)

                // QEMU killed: the domain stops (an event says so), and after a restart the bitmap of c1 is in use,
                // which libvirt reports as an inconsistent checkpoint.
                kill(try guest.qemuPID(), SIGKILL)
                try await waitForEvent(.stopped, of: name, in: events)
                #expect(try await hypervisor.run { try $0.domain(named: name).state() } == .shutOff)
                try await hypervisor.run { try $0.domain(named: name).start() }
                try await waitForEvent(.started, of: name, in: events)
                try await guest.waitUntilReady(count: 2)
                let incremental = backup("after-kill", from: "c1")
                let inconsistent = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run {
                        try $0.domain(named: name).beginBackup(
                            incremental, checkpoint: CheckpointDefinition(name: "c2", bitmapDisks: ["vda"], excludedDisks: ["vdb"]))
                    }
                }
                #expect(inconsistent?.code == .checkpointInconsistent, "\(String(describing: inconsistent))")
                #expect(inconsistent?.operation == "virDomainBackupBegin")
                #expect(try await hypervisor.run { try $0.domain(named: name).jobStats().isActive } == false)
                #expect(!FileManager.default.fileExists(atPath: incremental.scratchFiles[0]))
                #expect(try await hypervisor.run { try $0.domain(named: name).checkpoints().map(\.name) } == ["c1"])
            }
        }

        /// Waits for a lifecycle event of the named domain; the bound only keeps a broken run from hanging.
        func waitForEvent(_ kind: DomainEvent.Kind, of name: String, in events: AsyncStream<DomainEvent>) async throws {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await event in events where event.domainName == name && event.kind == kind { return true }
                    return false
                }
                group.addTask {
                    try await Task.sleep(nanoseconds: 120_000_000_000)
                    return false
                }
                let seen = try await group.next() ?? false
                group.cancelAll()
                guard seen else { throw TestFailure("no \(kind) event for \(name)") }
            }
        }
    }
}

extension BackupDefinition {
    var scratchFiles: [String] { disks.map(\.scratchFile) }
}
