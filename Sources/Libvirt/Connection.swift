internal import CLibvirt
import Foundation

/// An open libvirt connection (`virConnectPtr`), closed when the object goes away.
///
/// Not `Sendable`: libvirt keeps its last error per thread, so a connection and every handle made from it are used
/// from one thread at a time. ``Hypervisor`` is the owner that gives async code safe access to one.
public final class Connection {
    let handle: virConnectPtr
    /// The URI the connection was opened with.
    public let uri: String

    /// Opens a read-write connection to `uri` (for example `qemu:///system`, `test:///default`).
    public init(uri: String) throws(LibvirtError) {
        try LibvirtRuntime.ensureInitialized()
        guard let handle = virConnectOpen(uri) else {
            throw LibvirtError.last("virConnectOpen", subject: "URI '\(uri)'")
        }
        self.handle = handle
        self.uri = uri
    }

    deinit {
        virConnectClose(handle)
    }

    /// The hostname of the machine libvirt runs on.
    /// Whether the connection still reaches libvirtd (`virConnectIsAlive`): false once the daemon went away, after
    /// which every call on this connection fails and a new one must be opened.
    public func isAlive() -> Bool {
        virConnectIsAlive(handle) == 1
    }

    public func hostname() throws(LibvirtError) -> String {
        guard let name = virConnectGetHostname(handle) else { throw LibvirtError.last("virConnectGetHostname") }
        defer { free(name) }
        return String(cString: name)
    }

    /// The libvirt library version of the daemon, as (major, minor, micro).
    public func libvirtVersion() throws(LibvirtError) -> Version {
        var raw: UInt = 0
        guard virConnectGetLibVersion(handle, &raw) == 0 else { throw LibvirtError.last("virConnectGetLibVersion") }
        return Version(encoded: raw)
    }

    /// The hypervisor (QEMU) version, as (major, minor, micro).
    public func hypervisorVersion() throws(LibvirtError) -> Version {
        var raw: UInt = 0
        guard virConnectGetVersion(handle, &raw) == 0 else { throw LibvirtError.last("virConnectGetVersion") }
        return Version(encoded: raw)
    }

    /// The domain capabilities XML for the default emulator of `virtType` (`kvm` or `qemu`).
    public func domainCapabilities(virtType: String? = nil) throws(LibvirtError) -> String {
        guard let xml = virConnectGetDomainCapabilities(handle, nil, nil, nil, virtType, 0) else {
            throw LibvirtError.last("virConnectGetDomainCapabilities")
        }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// Every domain libvirt knows, running or defined, with its state and UUID.
    public func listDomains() throws(LibvirtError) -> [DomainSummary] {
        var list: UnsafeMutablePointer<virDomainPtr?>?
        let count = virConnectListAllDomains(handle, &list, 0)
        guard count >= 0, let list else { throw LibvirtError.last("virConnectListAllDomains") }
        defer { free(list) }
        // Wrap every pointer first so that each is freed exactly once, even when a later summary fails.
        let domains = (0..<Int(count)).compactMap { list[$0].map { Domain(handle: $0, connection: self) } }
        var result: [DomainSummary] = []
        for domain in domains {
            do {
                result.append(try domain.summary())
            } catch where error.code == .noDomain {
                // A transient domain that stopped, or one that migrated away, while the list was read.
                continue
            }
        }
        return result.sorted { $0.name < $1.name }
    }

    /// The domain called `name`; throws `noDomain` when there is none.
    public func domain(named name: String) throws(LibvirtError) -> Domain {
        guard let ptr = virDomainLookupByName(handle, name) else {
            throw LibvirtError.last("virDomainLookupByName", subject: "domain '\(name)'")
        }
        return Domain(handle: ptr, connection: self)
    }

    /// The domain with this UUID (string form with dashes); throws `noDomain` when there is none.
    public func domain(uuid: String) throws(LibvirtError) -> Domain {
        guard let ptr = virDomainLookupByUUIDString(handle, uuid) else {
            throw LibvirtError.last("virDomainLookupByUUIDString", subject: "domain UUID \(uuid)")
        }
        return Domain(handle: ptr, connection: self)
    }

    /// Defines (or redefines) a persistent domain from XML.
    @discardableResult
    public func defineDomain(xml: String) throws(LibvirtError) -> Domain {
        guard let ptr = virDomainDefineXML(handle, xml) else { throw LibvirtError.last("virDomainDefineXML") }
        return Domain(handle: ptr, connection: self)
    }
}

/// A libvirt or hypervisor version number.
public struct Version: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public var major: Int
    public var minor: Int
    public var micro: Int

    public init(major: Int, minor: Int, micro: Int = 0) {
        self.major = major
        self.minor = minor
        self.micro = micro
    }

    /// Decodes libvirt's `major * 1,000,000 + minor * 1,000 + micro` form.
    public init(encoded: UInt) {
        self.init(major: Int(encoded / 1_000_000), minor: Int(encoded / 1_000 % 1_000), micro: Int(encoded % 1_000))
    }

    public static func < (lhs: Version, rhs: Version) -> Bool {
        (lhs.major, lhs.minor, lhs.micro) < (rhs.major, rhs.minor, rhs.micro)
    }

    public var description: String { "\(major).\(minor).\(micro)" }
}
