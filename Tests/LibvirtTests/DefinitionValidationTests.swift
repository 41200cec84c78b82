import Libvirt
import Testing

/// Definitions libvirt would refuse with a bare schema error are refused first, with a message that says why.
@Suite struct DefinitionValidationTests {
    @Test(arguments: ["c1", "nightly-20240501T020000Z", "_x", "a.b.c", "-dash"])
    func acceptsNamesLibvirtAccepts(name: String) {
        #expect(CheckpointDefinition.isValidName(name))
    }

    @Test(arguments: ["", ".hidden", "a/b", "2024-05-01T02:00:00Z", "spa ce", "ünï"])
    func refusesNamesLibvirtRefuses(name: String) {
        #expect(!CheckpointDefinition.isValidName(name))
    }

    @Test func checkpointNeedsADiskWithABitmap() {
        let error = #expect(throws: LibvirtError.self) {
            try CheckpointDefinition(name: "c1", bitmapDisks: [], excludedDisks: ["vdb"]).validate(subject: "domain 'x'")
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("at least one disk") == true)
        #expect(error?.subject == "domain 'x'")
    }

    @Test func backupNeedsDisksAValidIncrementalAndAShortSocketPath() {
        let disk = BackupDefinition.Disk(name: "vda", scratchFile: "/tmp/s.qcow2")
        #expect(throws: Never.self) { try BackupDefinition(socketPath: "/tmp/b.sock", disks: [disk]).validate() }
        let noDisks = #expect(throws: LibvirtError.self) {
            try BackupDefinition(socketPath: "/tmp/b.sock", disks: []).validate()
        }
        #expect(noDisks?.message.contains("at least one disk") == true)
        let badParent = #expect(throws: LibvirtError.self) {
            try BackupDefinition(incremental: "a:b", socketPath: "/tmp/b.sock", disks: [disk]).validate()
        }
        #expect(badParent?.message.contains("'a:b'") == true)
        let longPath = "/tmp/" + String(repeating: "s", count: 120) + ".sock"
        let tooLong = #expect(throws: LibvirtError.self) {
            try BackupDefinition(socketPath: longPath, disks: [disk]).validate()
        }
        #expect(tooLong?.code == .invalidArgument)
        #expect(tooLong?.message.contains("107 bytes") == true)
    }
}
