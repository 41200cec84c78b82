import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// Lookups and bad input against the real libvirtd, without a guest.
    @Suite struct SystemConnectionTests {
        @Test func reportsVersionsAndBackupSupport() async throws {
            let hypervisor = try await Hypervisor.open(uri: systemURI)
            let facts = try await hypervisor.run { connection in
                (try connection.libvirtVersion(), try connection.hypervisorVersion(), try connection.domainCapabilities())
            }
            #expect(facts.0 >= Version(major: 7, minor: 6))
            #expect(facts.1 >= Version(major: 6, minor: 1))
            #expect(facts.2.contains("<backup supported='yes'/>"))
        }

        @Test func unknownDomainIsATypedError() async throws {
            let hypervisor = try await Hypervisor.open(uri: systemURI)
            let error = await #expect(throws: LibvirtError.self) {
                try await hypervisor.run { _ = try $0.domain(named: "bulwark-no-such-domain") }
            }
            #expect(error?.code == .noDomain)
            #expect(error?.description.contains("bulwark-no-such-domain") == true)
            let byUUID = await #expect(throws: LibvirtError.self) {
                try await hypervisor.run { _ = try $0.domain(uuid: "00000000-0000-4000-8000-000000000000") }
            }
            #expect(byUUID?.code == .noDomain)
        }

        @Test func invalidDomainXMLIsATypedError() async throws {
            let hypervisor = try await Hypervisor.open(uri: systemURI)
            let error = await #expect(throws: LibvirtError.self) {
                try await hypervisor.run { _ = try $0.defineDomain(xml: "<domain type='qemu'><name>x</name></domain>") }
            }
            #expect(error?.operation == "virDomainDefineXML")
            #expect(error?.message.isEmpty == false)
        }

        @Test func unreachableURIIsATypedError() async throws {
            let error = await #expect(throws: LibvirtError.self) {
                _ = try await Hypervisor.open(uri: "qemu+unix:///system?socket=/nonexistent/libvirt-sock")
            }
            #expect(error?.operation == "virConnectOpen")
            #expect(error?.description.contains("/nonexistent/libvirt-sock") == true)
        }
    }
}
