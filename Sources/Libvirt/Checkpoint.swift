internal import CLibvirt
import Foundation

/// A libvirt checkpoint handle (`virDomainCheckpointPtr`), freed when the object goes away.
public final class Checkpoint {
    let handle: virDomainCheckpointPtr
    /// The domain the checkpoint belongs to (kept alive with it).
    public let domain: Domain
    public let name: String

    init(handle: virDomainCheckpointPtr, domain: Domain) {
        self.handle = handle
        self.domain = domain
        self.name = virDomainCheckpointGetName(handle).map { String(cString: $0) } ?? "?"
    }

    deinit {
        virDomainCheckpointFree(handle)
    }

    var subject: String { "checkpoint '\(name)' of domain '\(domain.name)'" }

    /// The checkpoint XML, without the embedded domain definition; `withSizes` asks QEMU how many bytes changed
    /// since the checkpoint (the domain must be running).
    public func xml(withSizes: Bool = false) throws(LibvirtError) -> String {
        var flags = VIR_DOMAIN_CHECKPOINT_XML_NO_DOMAIN.rawValue
        if withSizes { flags |= VIR_DOMAIN_CHECKPOINT_XML_SIZE.rawValue }
        return try fullXML(flags: flags)
    }

    /// The checkpoint XML with the domain definition inside: what a later redefine needs.
    public func redefinableXML() throws(LibvirtError) -> String {
        try fullXML(flags: 0)
    }

    private func fullXML(flags: UInt32) throws(LibvirtError) -> String {
        guard let xml = virDomainCheckpointGetXMLDesc(handle, flags) else {
            throw LibvirtError.last("virDomainCheckpointGetXMLDesc", subject: subject)
        }
        defer { free(xml) }
        return String(cString: xml)
    }

    /// The parsed checkpoint XML.
    public func description(withSizes: Bool = false) throws(LibvirtError) -> CheckpointDescription {
        let text = try xml(withSizes: withSizes)
        do {
            return try CheckpointDescription(xml: text)
        } catch {
            throw LibvirtError(
                code: .xmlError, message: "libvirt returned checkpoint XML Bulwark cannot read: \(error)",
                operation: "virDomainCheckpointGetXMLDesc", subject: subject)
        }
    }

    /// Deletes the checkpoint. With `metadataOnly` libvirt forgets it but leaves the qcow2 bitmaps in place;
    /// otherwise the bitmaps are removed (merged into the parent's) too.
    public func delete(metadataOnly: Bool = false) throws(LibvirtError) {
        let flags = metadataOnly ? VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY.rawValue : 0
        guard virDomainCheckpointDelete(handle, flags) == 0 else {
            throw LibvirtError.last("virDomainCheckpointDelete", subject: subject)
        }
    }
}
