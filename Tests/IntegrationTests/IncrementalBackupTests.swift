import Foundation
import Libvirt
import NBD
import TestSupport
import Testing

extension IntegrationSuite {
    /// Checkpoints and pull-mode backup jobs against the real libvirtd and a booted guest, read back through libnbd.
    @Suite struct IncrementalBackupTests {
        /// The whole incremental path: quiesced checkpoint, writes, pull backup from the checkpoint, exactly the dirty
        /// extents and their bytes over NBD, point-in-time isolation, a second job refused, clean end of the job, and the
        /// next increment from the checkpoint the job created.
        @Test func incrementalPullBackupReadsExactlyTheDirtyBlocks() async throws {
            try await withGuest(kernelArguments: ["bulwark.mount=vdb1"]) { guest in
                let name = guest.name
                let hypervisor = guest.hypervisor
                let socket = guest.directory.file("backup.sock")
                let scratch = guest.directory.file("scratch-vda.qcow2")

                // The guest agent answers, so a quiesced checkpoint works and leaves the filesystems thawed.
                #expect(try await hypervisor.run { try $0.domain(named: name).isGuestAgentAnswering(timeout: 10) })
                let hello = try await guest.exec("/bin/cat", ["/mnt/data/hello.txt"])
                #expect(hello.exitCode == 0)
                #expect(hello.output == "hello from bulwark\n")
                let c1 = CheckpointDefinition(name: "c1", bitmapDisks: ["vda"], excludedDisks: ["vdb"])
                try await hypervisor.run { _ = try $0.domain(named: name).createCheckpoint(c1, quiesce: true) }
                let freeze = try await hypervisor.run {
                    try $0.domain(named: name).guestAgentCommand(#"{"execute":"guest-fsfreeze-status"}"#)
                }
                #expect(freeze.contains("thawed"))

                // Known writes after c1: two through QEMU's block layer, one by the guest itself.
                try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    try domain.qemuIOWrite(byte: 0xab, offset: "1M", length: "128k")
                    try domain.qemuIOWrite(byte: 0xcd, offset: "5M", length: "64k")
                }
                let write = try await guest.exec("/bin/bulwark-write", ["vda", "8192", "64", "5a"])
                #expect(write.exitCode == 0)

                let backup = BackupDefinition(
                    incremental: "c1", socketPath: socket, disks: [.init(name: "vda", scratchFile: scratch)],
                    excludedDisks: ["vdb"])
                let c2 = CheckpointDefinition(name: "c2", bitmapDisks: ["vda"], excludedDisks: ["vdb"])
                let job = try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    try domain.beginBackup(backup, checkpoint: c2)
                    return (try domain.backupDescription(), try domain.jobStats())
                }
                #expect(job.1.isActive)
                #expect(job.1.isBackup)
                #expect(job.0.mode == "pull")
                #expect(job.0.incremental == "c1")
                let disk = try #require(job.0.disks.first)
                #expect(job.0.disks.map(\.name) == ["vda"])
                let bitmap = MetaContext.dirtyBitmap(try #require(disk.exportBitmap))

                // A second backup while one runs is refused with a typed error and changes nothing.
                let second = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { connection in
                        try connection.domain(named: name).beginBackup(
                            BackupDefinition(
                                socketPath: guest.directory.file("second.sock"),
                                disks: [.init(name: "vda", scratchFile: guest.directory.file("second.qcow2"))],
                                excludedDisks: ["vdb"]))
                    }
                }
                #expect(second?.code == .operationInvalid, "\(String(describing: second))")
                #expect(second?.description.contains(name) == true)
                #expect(!FileManager.default.fileExists(atPath: guest.directory.file("second.qcow2")))

                let nbd = try NBDConnection(
                    .unix(path: socket, export: disk.exportName ?? "vda"),
                    metaContexts: [MetaContext.baseAllocation, bitmap])
                #expect(nbd.size == 64 * mib)
                // Writes after the job began must not show through: the export is the point in time of c2.
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0xee, offset: "1M", length: "64k") }

                let status = try nbd.blockStatus(0..<nbd.size)
                let dirty = try #require(status[bitmap]).filter(\.isDirty).map(\.range)
                #expect(dirty == [mib..<(mib + 128 * kib), (5 * mib)..<(5 * mib + 64 * kib), (8 * mib)..<(8 * mib + 64 * kib)])
                let allocated = try #require(status[MetaContext.baseAllocation]).filter { !$0.isZero }.map(\.range)
                for range in dirty { #expect(allocated.contains { $0.contains(range.lowerBound) && range.upperBound <= $0.upperBound }) }
                #expect(try nbd.read(offset: mib, length: 131072) == [UInt8](repeating: 0xab, count: 131072))
                #expect(try nbd.read(offset: 5 * mib, length: 65536) == [UInt8](repeating: 0xcd, count: 65536))
                #expect(try nbd.read(offset: 8 * mib, length: 65536) == [UInt8](repeating: 0x5a, count: 65536))
                #expect(try nbd.read(offset: 3 * mib, length: 65536) == [UInt8](repeating: 0, count: 65536))

                // Ending the job closes the export under the reader and removes the scratch file.
                let after = try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    try domain.abortJob()
                    return (try domain.jobStats(), try domain.checkpoints().map { try $0.description() })
                }
                #expect(!after.0.isActive)
                let gone = #expect(throws: NBDError.self) { try nbd.read(offset: mib, length: 4096) }
                #expect(gone?.operation == "nbd_pread")
                #expect(!FileManager.default.fileExists(atPath: scratch))
                #expect(after.1.map(\.name) == ["c1", "c2"])
                #expect(after.1.last?.parent == "c1")
                #expect(after.1.last?.bitmapDisks == ["vda"])

                // The next increment, from c2, holds exactly the write made after c2.
                let next = BackupDefinition(
                    incremental: "c2", socketPath: guest.directory.file("next.sock"),
                    disks: [.init(name: "vda", scratchFile: guest.directory.file("next.qcow2"))], excludedDisks: ["vdb"])
                let nextJob = try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    try domain.beginBackup(next, checkpoint: CheckpointDefinition(name: "c3", bitmapDisks: ["vda"], excludedDisks: ["vdb"]))
                    return try domain.backupDescription()
                }
                let nextDisk = try #require(nextJob.disks.first)
                let nextBitmap = MetaContext.dirtyBitmap(try #require(nextDisk.exportBitmap))
                do {
                    let reader = try await NBDExport.open(
                        .unix(path: next.socketPath, export: nextDisk.exportName ?? "vda"), metaContexts: [nextBitmap],
                        connections: 2)
                    let nextStatus = try await reader.blockStatus(0..<reader.size)
                    #expect(try #require(nextStatus[nextBitmap]).filter(\.isDirty).map(\.range) == [mib..<(mib + 64 * kib)])
                    #expect(try await reader.read(offset: mib, length: 65536) == [UInt8](repeating: 0xee, count: 65536))
                    #expect(try await reader.read(offset: mib + 65536, length: 65536) == [UInt8](repeating: 0xab, count: 65536))
                }
                try await hypervisor.run { try $0.domain(named: name).abortJob() }
            }
        }
    }
}
