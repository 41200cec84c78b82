import Libvirt
import Testing

/// The checkpoint XML Bulwark writes, and libvirt's checkpoint XML it reads.
@Suite struct CheckpointXMLTests {
    @Test func definitionRoundTripsThroughDescription() throws {
        let definition = CheckpointDefinition(
            name: "bulwark-20240501T020000Z", description: "nightly", bitmapDisks: ["vda", "vdb"],
            excludedDisks: ["sda"])
        let parsed = try CheckpointDescription(xml: definition.xml)
        #expect(parsed.name == definition.name)
        #expect(parsed.bitmapDisks == ["vda", "vdb"])
        #expect(parsed.disks.map(\.name) == ["vda", "vdb", "sda"])
        #expect(parsed.disks.first { $0.name == "sda" }?.checkpoint == "no")
        #expect(parsed.parent == nil)
        #expect(parsed.creationTime == nil)
    }

    /// Descriptions come from users; markup in them must stay text. (Libvirt's schema keeps markup out of names, but
    /// the writer must not depend on that.)
    @Test(arguments: [#"a<b&'""#, "]]>", "&amp;", "<name>x</name>", "tab\tand ünïcødé"])
    func markupIsEscaped(name: String) throws {
        let definition = CheckpointDefinition(name: name, description: name, bitmapDisks: ["vd<a"])
        let parsed = try CheckpointDescription(xml: definition.xml)
        #expect(parsed.name == name)
        #expect(parsed.bitmapDisks == ["vd<a"])
    }

    /// What `virDomainCheckpointGetXMLDesc` gives with `VIR_DOMAIN_CHECKPOINT_XML_SIZE` for a child checkpoint.
    @Test func parsesLibvirtCheckpointWithParentAndSizes() throws {
        let xml = """
            <domaincheckpoint>
              <name>c2</name>
              <parent>
                <name>c1</name>
              </parent>
              <creationTime>1714528800</creationTime>
              <disks>
                <disk name='vda' checkpoint='bitmap' bitmap='c2' size='1048576'/>
                <disk name='vdb' checkpoint='bitmap' bitmap='legacy-bitmap' size='0'/>
                <disk name='sda' checkpoint='no'/>
              </disks>
            </domaincheckpoint>
            """
        let parsed = try CheckpointDescription(xml: xml)
        #expect(parsed.name == "c2")
        #expect(parsed.parent == "c1")
        #expect(parsed.creationTime == 1_714_528_800)
        #expect(parsed.bitmapDisks == ["vda", "vdb"])
        try #require(parsed.disks.count == 3)
        #expect(parsed.disks[0].bitmap == "c2")
        #expect(parsed.disks[0].size == 1_048_576)
        #expect(parsed.disks[1].bitmap == "legacy-bitmap")
        #expect(parsed.disks[1].size == 0)
        #expect(parsed.disks[2].checkpoint == "no")
        #expect(parsed.disks[2].bitmap == nil)
        #expect(parsed.disks[2].size == nil)
    }

    /// The redefinable form embeds the whole domain; its `<devices><disk>` elements are not checkpoint disks.
    @Test func ignoresTheEmbeddedDomainOfRedefinableXML() throws {
        let xml = """
            <domaincheckpoint>
              <name>c1</name>
              <creationTime>1714528800</creationTime>
              <disks>
                <disk name='vda' checkpoint='bitmap' bitmap='c1'/>
              </disks>
              <domain type='kvm'>
                <name>web1</name>
                <disks><disk name='bogus'/></disks>
                <devices>
                  <disk type='file' device='disk'><source file='/x.qcow2'/><target dev='vda'/></disk>
                  <disk type='file' device='disk'><source file='/y.qcow2'/><target dev='vdb'/></disk>
                </devices>
              </domain>
            </domaincheckpoint>
            """
        let parsed = try CheckpointDescription(xml: xml)
        #expect(parsed.name == "c1")
        #expect(parsed.disks.map(\.name) == ["vda"])
    }

    @Test func rejectsCheckpointXMLWithoutName() {
        let error = #expect(throws: XMLFormatError.self) {
            try CheckpointDescription(xml: "<domaincheckpoint><disks/></domaincheckpoint>")
        }
        #expect(error?.description == "checkpoint XML has no <name>")
        #expect(throws: XMLFormatError.self) { try CheckpointDescription(xml: "<domain><name>c1</name></domain>") }
    }
}
