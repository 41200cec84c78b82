public import DomainXML
import Foundation

/// What Bulwark reads out of a domain's XML: its identity and its disks.
public struct DomainDescription: Sendable, Hashable {
    public var name: String
    public var uuid: String
    /// `kvm` or `qemu` (TCG).
    public var virtType: String
    public var disks: [DiskDescription]

    /// Parses libvirt domain XML.
    public init(xml: String) throws(XMLFormatError) {
        let root = try XMLTree.parse(xml, root: "domain")
        guard let name = root.childText("name"), !name.isEmpty else {
            throw XMLFormatError("domain XML has no <name>")
        }
        self.name = name
        self.uuid = root.childText("uuid")?.lowercased() ?? ""
        self.virtType = root.attribute("type") ?? ""
        self.disks = (root.child("devices")?.children("disk") ?? []).compactMap(DiskDescription.init(element:))
    }

    /// The disks Bulwark can protect: every `device='disk'` (not CD-ROMs, floppies or LUN pass-through).
    public var protectableDisks: [DiskDescription] {
        disks.filter { $0.device == "disk" }
    }
}

/// One `<disk>` of a domain.
public struct DiskDescription: Sendable, Hashable, Codable {
    /// The guest-visible target name, `vda`, `sdb`: a disk's name in checkpoints and backup jobs.
    public var target: String
    /// `virtio`, `scsi`, `sata`, `ide`, ...
    public var bus: String?
    /// `disk`, `cdrom`, `floppy`, `lun`.
    public var device: String
    /// `file`, `block`, `network`, `volume`.
    public var sourceType: String
    /// The image format from `<driver type=...>`: `qcow2`, `raw`.
    public var format: String?
    /// The path of a file or block device; nil for network disks and empty drives.
    public var sourcePath: String?
    /// The alias libvirt gave the disk in the running domain (`virtio-disk0`); nil for an inactive definition.
    public var alias: String?

    public init(
        target: String, bus: String? = nil, device: String = "disk", sourceType: String = "file",
        format: String? = nil, sourcePath: String? = nil, alias: String? = nil
    ) {
        self.target = target
        self.bus = bus
        self.device = device
        self.sourceType = sourceType
        self.format = format
        self.sourcePath = sourcePath
        self.alias = alias
    }

    init?(element: XMLTree.Element) {
        guard let target = element.child("target")?.attribute("dev") else { return nil }
        self.target = target
        self.bus = element.child("target")?.attribute("bus")
        self.device = element.attribute("device") ?? "disk"
        self.sourceType = element.attribute("type") ?? "file"
        self.format = element.child("driver")?.attribute("type")
        let source = element.child("source")
        self.sourcePath = source?.attribute("file") ?? source?.attribute("dev")
        self.alias = element.child("alias")?.attribute("name")
    }

    /// Whether QEMU can keep persistent dirty bitmaps for this disk, the base of incremental backups.
    public var supportsBitmaps: Bool { format == "qcow2" }
}
