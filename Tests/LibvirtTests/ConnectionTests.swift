import Foundation
import Libvirt
import Testing

/// `Connection` and `Domain` against libvirt's in-process test driver, and connections that cannot open.
@Suite struct ConnectionTests {
    @Test func openingAnUnknownURIThrowsATypedError() throws {
        let error = try #require(throws: LibvirtError.self) { try Connection(uri: "bogus:///nowhere") }
        #expect(error.operation == "virConnectOpen")
        #expect(error.subject == "URI 'bogus:///nowhere'")
        #expect(error.code == .noConnect)
        #expect(error.message.contains("bogus:///nowhere"))
        #expect(error.description.hasPrefix("virConnectOpen failed (URI 'bogus:///nowhere'): "))
    }

    @Test func reportsVersionsOfLibraryAndTestHypervisor() throws {
        let connection = try Connection(uri: TestDriver.uri)
        #expect(connection.uri == TestDriver.uri)
        // Debian 12 ships libvirt 9.0; Bulwark needs pull backups and checkpoints, which libvirt has had since 6.0.
        #expect(try connection.libvirtVersion() >= Version(major: 9, minor: 0))
        // The test driver reports itself as hypervisor version 2, i.e. 0.0.2.
        #expect(try connection.hypervisorVersion() == Version(major: 0, minor: 0, micro: 2))
        #expect(try !connection.hostname().isEmpty)
    }

    /// A restored VM's interfaces stay only on networks the host has: the test driver's stock one is `default`.
    @Test func listsTheNetworksARestoredVMMayUse() throws {
        let connection = try Connection(uri: TestDriver.uri)
        #expect(try connection.networkNames() == ["default"])
    }

    @Test func listsTheStockRunningDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let domains = try connection.listDomains()
        #expect(domains.map(\.name) == domains.map(\.name).sorted())
        let stock = try #require(domains.first { $0.name == TestDriver.stockDomainName })
        #expect(stock.state == .running)
        #expect(stock.isPersistent)
        #expect(stock.uuid == TestDriver.stockDomainUUID)
        #expect(domains.allSatisfy { isLowercaseUUID($0.uuid) })
    }

    /// A driver with no domains at all: libvirt hands back an empty list, which must not read as a failure.
    @Test func listsNoDomainsOnAnEmptyHost() throws {
        let file = FileManager.default.temporaryDirectory
            .appendingPathComponent("bulwark-empty-\(UUID().uuidString).xml")
        try "<node></node>".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let connection = try Connection(uri: "test://\(file.path)")
        #expect(try connection.listDomains() == [])
    }

    @Test func lookupOfAnUnknownNameThrowsNoDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let error = try #require(throws: LibvirtError.self) { try connection.domain(named: "no-such-vm") }
        #expect(error.code == .noDomain)
        #expect(error.operation == "virDomainLookupByName")
        #expect(error.description.contains("no-such-vm"))
    }

    @Test func lookupOfAnUnknownOrMalformedUUIDThrows() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let unknown = try #require(throws: LibvirtError.self) {
            try connection.domain(uuid: "00000000-0000-0000-0000-0000000000ff")
        }
        #expect(unknown.code == .noDomain)
        #expect(unknown.description.contains("00000000-0000-0000-0000-0000000000ff"))

        let malformed = try #require(throws: LibvirtError.self) { try connection.domain(uuid: "not-a-uuid") }
        #expect(malformed.code == .invalidArgument)
    }

    @Test func definesStartsAndStopsADomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let name = TestDriver.uniqueName("lifecycle")
        let uuid = UUID().uuidString  // upper case, as Foundation prints it
        let domain = try connection.defineDomain(xml: TestDriver.domainXML(name: name, uuid: uuid))
        defer { try? domain.undefine() }
        #expect(domain.name == name)
        #expect(try domain.uuid() == uuid.lowercased())
        let summary = DomainSummary(name: name, uuid: uuid.lowercased(), state: .shutOff, isPersistent: true)
        #expect(try domain.summary() == summary)
        #expect(try connection.domain(uuid: uuid).name == name)
        #expect(try connection.listDomains().contains { $0.name == name && $0.state == .shutOff })

        try domain.start()
        #expect(try domain.state() == .running)
        #expect(try connection.domain(named: name).state() == .running)
        // The test driver answers internalError here where QEMU answers operationInvalid; only the shape is Bulwark's.
        let startAgain = try #require(throws: LibvirtError.self) { try domain.start() }
        #expect(startAgain.operation == "virDomainCreate")
        #expect(startAgain.subject == "domain '\(name)'")
        #expect(startAgain.message.contains("already running"))

        try domain.destroy()
        #expect(try domain.state() == .shutOff)
        let destroyAgain = try #require(throws: LibvirtError.self) { try domain.destroy() }
        #expect(destroyAgain.code == .operationInvalid)
        #expect(destroyAgain.operation == "virDomainDestroy")
    }

    /// `undefine()` asks libvirt to drop checkpoint metadata too; a driver that does not know that flag (the test
    /// driver in libvirt 9.0 answers "unsupported flags (0x10)") must still be able to undefine a domain that has no
    /// checkpoints, as `virsh undefine` manages by retrying without the flag.
    @Test func undefinesADomainWithoutCheckpoints() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let domain = try connection.defineDomain(xml: TestDriver.domainXML(name: TestDriver.uniqueName("undefine")))
        #expect(try domain.checkpoints().isEmpty)
        try domain.undefine()
        #expect(try #require(throws: LibvirtError.self) { try connection.domain(named: domain.name) }.code == .noDomain)
        // The handle outlives the definition; libvirt answers for it with noDomain, not a crash.
        #expect(try #require(throws: LibvirtError.self) { try domain.state() }.code == .noDomain)
    }

    @Test func rejectsBadDefinitions() throws {
        let connection = try Connection(uri: TestDriver.uri)
        let malformed = try #require(throws: LibvirtError.self) { try connection.defineDomain(xml: "<domain>") }
        #expect(malformed.operation == "virDomainDefineXML")
        // libxml2 parse failures inside libvirt come back as VIR_ERR_XML_DETAIL.
        #expect(malformed.code == .xmlDetail)
        #expect(malformed.code.description == "xmlDetail(35)")

        // Same name, different UUID: libvirt refuses to let a definition take over another domain's name.
        try TestDriver.withDomain(on: connection) { domain in
            let clash = try #require(throws: LibvirtError.self) {
                try connection.defineDomain(xml: TestDriver.domainXML(name: domain.name, uuid: UUID().uuidString))
            }
            #expect(clash.code == .operationFailed)
        }
    }

    /// Bulwark's parser reads the XML libvirt itself prints for the domain.
    @Test func describesADefinedDomain() throws {
        let connection = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: connection, running: true) { domain in
            let description = try domain.description()
            #expect(description.name == domain.name)
            #expect(description.uuid == (try domain.uuid()))
            #expect(description.virtType == "test")
            #expect(description.disks.map(\.target) == ["vda", "sda"])
            #expect(description.disks.map(\.format) == ["qcow2", "raw"])
            #expect(description.disks[0].sourcePath == "/guest/\(domain.name).qcow2")
            #expect(description.protectableDisks.filter(\.supportsBitmaps).map(\.target) == ["vda"])
            #expect(try domain.xml(inactive: true).contains("<name>\(domain.name)</name>"))
        }
    }

    /// The other suites rely on this: within one process every `test:///default` connection sees the same domains.
    @Test func testDriverConnectionsShareOneState() throws {
        let first = try Connection(uri: TestDriver.uri)
        let second = try Connection(uri: TestDriver.uri)
        try TestDriver.withDomain(on: first) { domain in
            let seen = try second.domain(named: domain.name)
            #expect(try seen.uuid() == domain.uuid())
        }
    }
}
