import Libvirt
import Testing

/// The pull-mode backup job XML Bulwark writes, and the job XML libvirt reports back.
@Suite struct BackupXMLTests {
    @Test func fullBackupDefinitionRoundTrips() throws {
        let definition = BackupDefinition(
            socketPath: "/run/bulwark/web1.sock",
            disks: [
                .init(name: "vda", scratchFile: "/var/lib/bulwark/scratch/web1-vda.qcow2"),
                .init(name: "sda", scratchFile: "/var/lib/bulwark/scratch/web1-sda.qcow2"),
            ])
        let parsed = try BackupDescription(xml: definition.xml)
        #expect(parsed.mode == "pull")
        #expect(parsed.incremental == nil)
        #expect(parsed.socketPath == "/run/bulwark/web1.sock")
        #expect(parsed.disks.map(\.name) == ["vda", "sda"])
        #expect(parsed.disks.map(\.scratchFile) == [
            "/var/lib/bulwark/scratch/web1-vda.qcow2", "/var/lib/bulwark/scratch/web1-sda.qcow2",
        ])
        // Without an export name Bulwark leaves the choice to libvirt (the target name).
        #expect(parsed.disks.allSatisfy { $0.exportName == nil && $0.exportBitmap == nil })
    }

    @Test func incrementalDefinitionWithExportNamesAndExclusions() throws {
        let definition = BackupDefinition(
            incremental: "c1", socketPath: "/run/bulwark/web 1's.sock",
            disks: [.init(name: "vda", scratchFile: "/scratch/vda&1.qcow2", exportName: "web1<vda>")],
            excludedDisks: ["sda", "sdb"])
        let parsed = try BackupDescription(xml: definition.xml)
        #expect(parsed.mode == "pull")
        #expect(parsed.incremental == "c1")
        #expect(parsed.socketPath == "/run/bulwark/web 1's.sock")
        // Excluded disks are in the XML with backup='no' and must not come back as exported disks.
        try #require(parsed.disks.count == 1)
        #expect(parsed.disks[0].name == "vda")
        #expect(parsed.disks[0].exportName == "web1<vda>")
        #expect(parsed.disks[0].scratchFile == "/scratch/vda&1.qcow2")
    }

    /// What `virDomainBackupGetXMLDesc` reports for a running incremental pull job on QEMU.
    @Test func parsesLibvirtIncrementalJobXML() throws {
        let xml = """
            <domainbackup mode='pull'>
              <incremental>c1</incremental>
              <server transport='unix' socket='/run/bulwark/web1.sock'/>
              <disks>
                <disk name='vda' backup='yes' type='file' backupmode='incremental' incremental='c1' \
            exportname='vda' exportbitmap='backup-vda' index='5'>
                  <driver type='qcow2'/>
                  <scratch file='/var/lib/bulwark/scratch/web1-vda.qcow2'>
                  </scratch>
                </disk>
                <disk name='sda' backup='no'/>
                <disk name='sdb' backup='no'/>
              </disks>
            </domainbackup>
            """
        let parsed = try BackupDescription(xml: xml)
        #expect(parsed.mode == "pull")
        #expect(parsed.incremental == "c1")
        #expect(parsed.socketPath == "/run/bulwark/web1.sock")
        try #require(parsed.disks.count == 1)
        #expect(parsed.disks[0].name == "vda")
        #expect(parsed.disks[0].exportName == "vda")
        #expect(parsed.disks[0].exportBitmap == "backup-vda")
        #expect(parsed.disks[0].scratchFile == "/var/lib/bulwark/scratch/web1-vda.qcow2")
    }

    @Test func parsesAPushJobAndATCPServer() throws {
        let push = try BackupDescription(
            xml: """
                <domainbackup><disks><disk name='vda' type='file'><target file='/b/vda.img'/></disk></disks>\
                </domainbackup>
                """)
        #expect(push.mode == "push")
        #expect(push.socketPath == nil)
        #expect(push.disks.map(\.name) == ["vda"])
        #expect(push.disks[0].scratchFile == nil)

        let tcp = try BackupDescription(
            xml: "<domainbackup mode='pull'><server name='localhost' port='10809'/><disks/></domainbackup>")
        #expect(tcp.socketPath == nil)
        #expect(tcp.disks.isEmpty)
    }

    @Test func rejectsOtherDocuments() {
        let error = #expect(throws: XMLFormatError.self) {
            try BackupDescription(xml: "<domaincheckpoint><name>c1</name></domaincheckpoint>")
        }
        #expect(error?.message == "expected <domainbackup> as the root element, found <domaincheckpoint>")
        // Cut off before its disks: accepting it would report a job without exports.
        #expect(throws: XMLFormatError.self) { try BackupDescription(xml: "<domainbackup mode='pull'>") }
    }
}
