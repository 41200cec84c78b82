import Foundation
import Libvirt
import Testing

/// A recovery point's domain made into a new VM: name, UUID, MACs, disk paths and formats, consoles.
@Suite struct DomainRelocationTests {
    static let xml = """
        <domain type='qemu'>
          <name>web1</name>
          <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
          <memory unit='KiB'>262144</memory>
          <os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2'/>
              <source file='/var/lib/libvirt/images/web1.qcow2'/>
              <backingStore type='file'><format type='raw'/><source file='/base.img'/></backingStore>
              <target dev='vda' bus='virtio'/>
            </disk>
            <disk type='block' device='disk'>
              <driver name='qemu' type='raw'/>
              <source dev='/dev/vg/web1-data'/>
              <target dev='vdb' bus='virtio'/>
            </disk>
            <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>
            <serial type='file'><source path='/var/log/web1/console.log'/><target port='0'/></serial>
          </devices>
        </domain>
        """

    @Test func aNewVMGetsItsOwnIdentityDisksAndConsole() throws {
        let relocation = DomainRelocation(
            name: "web1 & copy", uuid: "0b5c6d8e-0000-4000-8000-000000000001",
            disks: [
                "vda": .init(path: "/srv/restore/web1-vda.qcow2", format: "qcow2"),
                "vdb": .init(path: "/srv/restore/web1-vdb.qcow2", format: "qcow2"),
            ],
            folder: "/srv/restore")
        let xml = try relocation.apply(to: Self.xml)
        let description = try DomainDescription(xml: xml)
        #expect(description.name == "web1 & copy")
        #expect(description.uuid == "0b5c6d8e-0000-4000-8000-000000000001")
        #expect(description.disks.map(\.sourcePath) == ["/srv/restore/web1-vda.qcow2", "/srv/restore/web1-vdb.qcow2"])
        #expect(description.disks.map(\.format) == ["qcow2", "qcow2"])
        #expect(description.disks.map(\.sourceType) == ["file", "file"])
        #expect(!xml.contains("52:54:00:aa:bb:cc") && !xml.contains("backingStore") && !xml.contains("/dev/vg/web1-data"))
        #expect(xml.contains("/srv/restore/web1 &amp; copy-console.log"))
        #expect(xml.contains("<kernel>/boot/vmlinuz</kernel>") && xml.contains("<source network=\"default\"/>"))
    }

    /// Back over the VM itself: only the disks move; name, UUID, MAC address and console stay.
    @Test func pointingDisksKeepsTheIdentity() throws {
        let xml = try DomainRelocation.pointingDisks(
            ["vda": .init(path: "/fast/web1.qcow2", format: "qcow2"), "vdb": .init(path: "/fast/web1-data.img", format: "raw")],
            in: Self.xml)
        let description = try DomainDescription(xml: xml)
        #expect(description.name == "web1" && description.uuid == "4dea22b3-1d52-d8f3-2516-782e98ab3fa0")
        #expect(description.disks.map(\.sourcePath) == ["/fast/web1.qcow2", "/fast/web1-data.img"])
        #expect(description.disks.map(\.format) == ["qcow2", "raw"])
        #expect(xml.contains("52:54:00:aa:bb:cc") && xml.contains("/var/log/web1/console.log"))
        #expect(throws: XMLFormatError.self) {
            try DomainRelocation.pointingDisks(["vdz": .init(path: "/x", format: "raw")], in: Self.xml)
        }
    }

    @Test func aDiskTheDefinitionLacksIsAnError() {
        let relocation = DomainRelocation(
            name: "x", uuid: "0b5c6d8e-0000-4000-8000-000000000002",
            disks: ["vdz": .init(path: "/srv/x.qcow2", format: "qcow2")], folder: "/srv")
        #expect(throws: XMLFormatError.self) { try relocation.apply(to: Self.xml) }
        #expect(throws: XMLFormatError.self) { try relocation.apply(to: "<domain><name>x</name></domain>") }
        #expect(throws: XMLFormatError.self) { try relocation.apply(to: "not xml") }
    }
}
