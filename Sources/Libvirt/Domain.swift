internal import CLibvirt
import Foundation

/// A libvirt domain handle (`virDomainPtr`), freed when the object goes away.
///
/// Keeps its ``Connection`` alive, and like it is used from one thread at a time.
public final class Domain {
    let handle: virDomainPtr
    /// The connection the handle came from.
    public let connection: Connection
    /// The domain's name, read once: it names the domain in every error message.
    public let name: String

    init(handle: virDomainPtr, connection: Connection) {
        self.handle = handle
        self.connection = connection
        self.name = virDomainGetName(handle).map { String(cString: $0) } ?? "?"
    }

    deinit {
        virDomainFree(handle)
    }

    var subject: String { "domain '\(name)'" }

    /// The libvirt UUID, lower-case with dashes.
    public func uuid() throws(LibvirtError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(VIR_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buffer) == 0 else {
            throw LibvirtError.last("virDomainGetUUIDString", subject: subject)
        }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The current run state.
    public func state() throws(LibvirtError) -> DomainState {
        var state: Int32 = 0
        var reason: Int32 = 0
        guard virDomainGetState(handle, &state, &reason, 0) == 0 else {
            throw LibvirtError.last("virDomainGetState", subject: subject)
        }
        return DomainState(rawValue: state) ?? .noState
    }

    /// Whether libvirt keeps a definition of the domain when it stops.
    public func isPersistent() throws(LibvirtError) -> Bool {
        let result = virDomainIsPersistent(handle)
        guard result >= 0 else { throw LibvirtError.last("virDomainIsPersistent", subject: subject) }
        return result == 1
    }

    /// Name, UUID, state and persistence in one value.
    public func summary() throws(LibvirtError) -> DomainSummary {
        DomainSummary(name: name, uuid: try uuid(), state: try state(), isPersistent: try isPersistent())
    }

    /// The domain XML; `inactive` gives the persistent definition rather than the live one.
    public func xml(inactive: Bool = false) throws(LibvirtError) -> String {
        let flags = inactive ? VIR_DOMAIN_XML_INACTIVE.rawValue : 0
        guard let xml = virDomainGetXMLDesc(handle, flags) else {
            throw LibvirtError.last("virDomainGetXMLDesc", subject: subject)
        }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// The parsed live definition: disks, UUID, name.
    public func description() throws(LibvirtError) -> DomainDescription {
        let text = try xml()
        do {
            return try DomainDescription(xml: text)
        } catch {
            throw LibvirtError(
                code: .xmlError, message: "libvirt returned domain XML Bulwark cannot read: \(error)",
                operation: "virDomainGetXMLDesc", subject: subject)
        }
    }

    /// Starts a defined domain.
    public func start() throws(LibvirtError) {
        guard virDomainCreate(handle) == 0 else { throw LibvirtError.last("virDomainCreate", subject: subject) }
    }

    /// Asks the guest to shut down (ACPI, or the guest agent); returns at once, before the guest is off.
    public func shutdown() throws(LibvirtError) {
        guard virDomainShutdown(handle) == 0 else { throw LibvirtError.last("virDomainShutdown", subject: subject) }
    }

    /// Stops the domain at once, like pulling the plug.
    public func destroy() throws(LibvirtError) {
        guard virDomainDestroy(handle) == 0 else { throw LibvirtError.last("virDomainDestroy", subject: subject) }
    }

    /// Removes the persistent definition, with the checkpoint metadata libvirt holds for it.
    ///
    /// The bitmaps inside the qcow2 files stay: libvirt only forgets them.
    public func undefine() throws(LibvirtError) {
        let snapshots = VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA.rawValue
        if virDomainUndefineFlags(handle, snapshots | VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA.rawValue) == 0 { return }
        let error = LibvirtError.last("virDomainUndefineFlags", subject: subject)
        // Drivers without checkpoint support reject the flag; with no checkpoints there is nothing it would drop.
        guard [.invalidArgument, .noSupport].contains(error.code), (try? checkpoints().isEmpty) ?? true else {
            throw error
        }
        guard virDomainUndefineFlags(handle, snapshots) == 0 else {
            throw LibvirtError.last("virDomainUndefineFlags", subject: subject)
        }
    }
}
