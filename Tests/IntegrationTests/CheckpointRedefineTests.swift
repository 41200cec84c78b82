import Foundation
import Libvirt
import NBD
import TestSupport
import Testing

extension IntegrationSuite {
    /// Checkpoint metadata lost and given back, as after a move to another host, against the real libvirtd.
    @Suite struct CheckpointRedefineTests {
        /// Dropping only the metadata keeps the bitmap (a new checkpoint of that name then fails), redefining with
        /// validation restores a checkpoint an incremental backup can start from, and validation refuses a checkpoint
        /// whose bitmap is gone.
        @Test func metadataOnlyDeleteRedefineAndValidate() async throws {
            try await withGuest(kernelArguments: ["bulwark.agent=0"]) { guest in
                let name = guest.name
                let hypervisor = guest.hypervisor
                let c1 = CheckpointDefinition(name: "c1", bitmapDisks: ["vda"], excludedDisks: ["vdb"])
                let saved = try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    let checkpoint = try domain.createCheckpoint(c1)
                    let xml = try checkpoint.redefinableXML()
                    try checkpoint.delete(metadataOnly: true)
                    return xml
                }
                #expect(try CheckpointDescription(xml: saved).name == "c1")
                #expect(try await hypervisor.run { try $0.domain(named: name).checkpoints().count } == 0)

                // The bitmap is still in the image: libvirt cannot create another checkpoint of the same name.
                let clash = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { _ = try $0.domain(named: name).createCheckpoint(c1) }
                }
                #expect(clash?.message.isEmpty == false)

                try await hypervisor.run { _ = try $0.domain(named: name).redefineCheckpoint(xml: saved, validate: true) }
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x77, offset: "3M", length: "192k") }

                let job = BackupDefinition(
                    incremental: "c1", socketPath: guest.directory.file("b.sock"),
                    disks: [.init(name: "vda", scratchFile: guest.directory.file("scratch.qcow2"))], excludedDisks: ["vdb"])
                let description = try await hypervisor.run { connection in
                    let domain = try connection.domain(named: name)
                    try domain.beginBackup(job, checkpoint: CheckpointDefinition(name: "c2", bitmapDisks: ["vda"], excludedDisks: ["vdb"]))
                    return try domain.backupDescription()
                }
                let bitmap = MetaContext.dirtyBitmap(try #require(description.disks.first?.exportBitmap))
                do {
                    let nbd = try NBDConnection(.unix(path: job.socketPath, export: "vda"), metaContexts: [bitmap])
                    let dirty = try #require(try nbd.blockStatus(0..<nbd.size)[bitmap]).filter(\.isDirty).map(\.range)
                    #expect(dirty == [(3 * mib)..<(3 * mib + 192 * kib)])
                    #expect(try nbd.read(offset: 3 * mib, length: 196608) == [UInt8](repeating: 0x77, count: 196608))
                }
                try await hypervisor.run { try $0.domain(named: name).abortJob() }

                // c2's bitmap deleted for real: validating a redefinition of it must fail.
                let c2XML = try await hypervisor.run { connection in
                    let checkpoint = try connection.domain(named: name).checkpoint(named: "c2")
                    let xml = try checkpoint.redefinableXML()
                    try checkpoint.delete()
                    return xml
                }
                let invalid = await #expect(throws: LibvirtError.self) {
                    try await hypervisor.run { _ = try $0.domain(named: name).redefineCheckpoint(xml: c2XML, validate: true) }
                }
                #expect(invalid?.code == .checkpointInconsistent, "\(String(describing: invalid))")
                #expect(try await hypervisor.run { try $0.domain(named: name).checkpoints().map(\.name) } == ["c1"])
            }
        }
    }
}
