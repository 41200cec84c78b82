import Foundation
import Libvirt
import Testing

/// Parsing of domain XML into the identity and disks Bulwark backs up.
@Suite struct DomainDescriptionTests {
    /// The live XML of a running KVM guest, shaped like libvirt 9's output: a qcow2 overlay with a backing chain, a
    /// raw disk on an LVM volume, an empty CD-ROM and an NBD network disk.
    static let runningGuestXML = """
        <domain type='kvm' id='7' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
          <name>web1</name>
          <uuid>4DEA22B3-1D52-D8F3-2516-782E98AB3FA0</uuid>
          <memory unit='KiB'>1048576</memory>
          <os><type arch='x86_64' machine='pc-q35-7.2'>hvm</type></os>
          <devices>
            <emulator>/usr/bin/qemu-system-x86_64</emulator>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2' discard='unmap'/>
              <source file='/var/lib/libvirt/images/web1.qcow2' index='3'/>
              <backingStore type='file' index='4'>
                <format type='raw'/>
                <source file='/var/lib/libvirt/images/base.img'/>
                <backingStore/>
              </backingStore>
              <target dev='vda' bus='virtio'/>
              <alias name='virtio-disk0'/>
              <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
            </disk>
            <disk type='block' device='disk'>
              <driver name='qemu' type='raw' cache='none' io='native'/>
              <source dev='/dev/vg0/web1-data' index='2'/>
              <backingStore/>
              <target dev='sda' bus='sata'/>
              <alias name='sata0-0-0'/>
              <address type='drive' controller='0' bus='0' target='0' unit='0'/>
            </disk>
            <disk type='file' device='cdrom'>
              <driver name='qemu' type='raw'/>
              <target dev='sdb' bus='sata'/>
              <readonly/>
              <alias name='sata0-0-1'/>
            </disk>
            <disk type='network' device='disk'>
              <driver name='qemu' type='raw'/>
              <source protocol='nbd' name='export1' index='1'>
                <host name='nbd.example' port='10809'/>
              </source>
              <target dev='vdb' bus='virtio'/>
              <alias name='virtio-disk1'/>
            </disk>
            <interface type='network'>
              <source network='default'/>
              <target dev='vnet3'/>
            </interface>
          </devices>
          <qemu:commandline><qemu:arg value='-no-user-config'/></qemu:commandline>
        </domain>
        """

    @Test func parsesIdentityOfARunningGuest() throws {
        let description = try DomainDescription(xml: Self.runningGuestXML)
        #expect(description.name == "web1")
        // Libvirt prints UUIDs in lower case; a hand-written definition may not, and a UUID is compared as a string.
        #expect(description.uuid == "4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
        #expect(description.virtType == "kvm")
        #expect(description.disks.map(\.target) == ["vda", "sda", "sdb", "vdb"])
    }

    @Test func readsEachKindOfDisk() throws {
        let disks = try DomainDescription(xml: Self.runningGuestXML).disks
        try #require(disks.count == 4)

        // The top image, not the backing file whose <source> and <format> are nested deeper.
        #expect(
            disks[0]
                == DiskDescription(
                    target: "vda", bus: "virtio", device: "disk", sourceType: "file", format: "qcow2",
                    sourcePath: "/var/lib/libvirt/images/web1.qcow2", alias: "virtio-disk0"))
        #expect(disks[0].supportsBitmaps)

        #expect(
            disks[1]
                == DiskDescription(
                    target: "sda", bus: "sata", device: "disk", sourceType: "block", format: "raw",
                    sourcePath: "/dev/vg0/web1-data", alias: "sata0-0-0"))
        #expect(!disks[1].supportsBitmaps)

        #expect(disks[2].device == "cdrom")
        #expect(disks[2].sourcePath == nil)

        #expect(disks[3].sourceType == "network")
        #expect(disks[3].sourcePath == nil)
        #expect(disks[3].alias == "virtio-disk1")
    }

    @Test func protectableDisksLeaveOutRemovableMedia() throws {
        let protectable = try DomainDescription(xml: Self.runningGuestXML).protectableDisks.map(\.target)
        #expect(protectable.contains("vda"))
        #expect(protectable.contains("sda"))
        #expect(!protectable.contains("sdb"))
    }

    @Test func inactiveDefinitionHasNoAliasesAndDefaults() throws {
        let xml = """
            <domain type='qemu'>
              <name>plain</name>
              <devices>
                <disk><source file='/images/plain.img'/><target dev='hda'/></disk>
                <disk type='file' device='disk'><source file='/images/no-target.img'/></disk>
              </devices>
            </domain>
            """
        let description = try DomainDescription(xml: xml)
        #expect(description.uuid == "")
        #expect(description.virtType == "qemu")
        // A disk without a target has no name in checkpoints or backups, so it cannot be used and is dropped.
        let expected = DiskDescription(
            target: "hda", device: "disk", sourceType: "file", sourcePath: "/images/plain.img")
        #expect(description.disks == [expected])
    }

    @Test(arguments: [
        ("<domain type='kvm'><uuid>x</uuid></domain>", "no <name>"),
        ("<domain><name>  </name></domain>", "no <name>"),
        ("<domaincheckpoint><name>c1</name></domaincheckpoint>", "found <domaincheckpoint>"),
    ])
    func rejectsUnusableXML(xml: String, messageFragment: String) {
        let error = #expect(throws: XMLFormatError.self) { try DomainDescription(xml: xml) }
        if let error { #expect(error.message.contains(messageFragment), "message: \(error.message)") }
    }

    /// A cut-off document must not pass as a domain with fewer disks: a backup would silently leave disks out.
    @Test(arguments: [
        "<domain><name>web1</name>",
        "<domain><name>web1</name><devices><disk><target dev='vda'/></disk>",
        "<domain><name>web1</name></domain><domain><name>web2</name></domain>",
    ])
    func rejectsTruncatedOrTrailingXML(xml: String) {
        let error = #expect(throws: XMLFormatError.self) { try DomainDescription(xml: xml) }
        if let error { #expect(error.message.contains("not well-formed"), "message: \(error.message)") }
    }

    /// Stored or user-supplied XML must not make the parser read local files: a document type declaration, the
    /// only place entities are declared (and libvirt never writes one), is refused outright.
    @Test func doesNotLoadExternalEntities() throws {
        let xml = """
            <!DOCTYPE domain [<!ENTITY secret SYSTEM "file:///etc/hostname">]>
            <domain><name>vm&secret;</name></domain>
            """
        let error = #expect(throws: XMLFormatError.self) { try DomainDescription(xml: xml) }
        #expect(error?.message.contains("document type declaration") == true, "\(String(describing: error))")
    }

    /// An exit test: Foundation's `XMLDocument` dereferences NULL for empty input, and a regression back to it would
    /// take the whole test process down rather than fail one test.
    @Test func emptyXMLThrowsInsteadOfCrashing() async {
        await #expect(processExitsWith: .success) {
            for xml in ["   \n", ""] {
                if (try? DomainDescription(xml: xml)) != nil { exit(1) }
            }
        }
    }
}
