public import DomainXML
/// A recovery point's domain definition made into a new VM on any host (alternate-location recovery): a new name
/// and UUID, new MAC addresses, its disks at new paths in a new format, and file-backed consoles moved beside them,
/// so the copy can run next to the original without sharing a file or an address with it.
///
/// Everything else in the XML is kept as it is, so its result is only as trustworthy as its input: restores build
/// their definitions with `DomainAllowList` instead, because a point's XML was written by the host it came from.
public struct DomainRelocation: Sendable {
    /// Where one disk of the new VM lives.
    public struct Disk: Sendable, Hashable {
        public var path: String
        /// `qcow2` or `raw`.
        public var format: String
        public init(path: String, format: String) {
            self.path = path
            self.format = format
        }
    }

    public var name: String
    public var uuid: String
    /// By target (`vda`); every disk of the definition Bulwark backed up must be named.
    public var disks: [String: Disk]
    /// The folder file-backed serial ports and consoles are moved to.
    public var folder: String

    public init(name: String, uuid: String, disks: [String: Disk], folder: String) {
        self.name = name
        self.uuid = uuid
        self.disks = disks
        self.folder = folder
    }

    /// The relocated definition.
    public func apply(to xml: String) throws(XMLFormatError) -> String {
        let domain = try XMLTree.parse(xml, root: "domain")
        try set(domain, "name", name)
        try set(domain, "uuid", uuid)
        // libvirt generates fresh ids and MAC addresses for what the definition leaves out.
        for stale in domain.children("id") { stale.remove() }
        guard let devices = domain.child("devices") else { throw XMLFormatError("the domain has no <devices>") }
        for interface in devices.children("interface") {
            for mac in interface.children("mac") { mac.remove() }
        }
        try Self.point(devices, at: disks)
        for kind in ["serial", "console"] {
            for port in devices.children(kind) where port.attribute("type") == "file" {
                for source in port.children("source") {
                    guard let path = source.attribute("path") else { continue }
                    let file = path.split(separator: "/").last.map(String.init) ?? "\(kind).log"
                    source.setAttribute("path", "\(folder)/\(name)-\(file)")
                }
            }
        }
        return domain.documentXML
    }

    /// `xml` with only its disks moved (same name, UUID, MAC addresses and consoles): a recovery point's definition
    /// put back over a VM whose disks live elsewhere now than when the point was made.
    public static func pointingDisks(_ disks: [String: Disk], in xml: String) throws(XMLFormatError) -> String {
        let domain = try XMLTree.parse(xml, root: "domain")
        guard let devices = domain.child("devices") else { throw XMLFormatError("the domain has no <devices>") }
        try point(devices, at: disks)
        return domain.documentXML
    }

    /// Points each named disk (by target) at its file and format; every one must be in the definition.
    private static func point(_ devices: XMLTree.Element, at disks: [String: Disk]) throws(XMLFormatError) {
        var relocated = Set<String>()
        for disk in devices.children("disk") {
            guard let target = disk.child("target")?.attribute("dev"), let place = disks[target] else { continue }
            disk.setAttribute("type", "file")
            for old in disk.children("source") + disk.children("backingStore") { old.remove() }
            disk.addChild("source").setAttribute("file", place.path)
            let driver = disk.child("driver") ?? disk.addChild("driver")
            driver.setAttribute("name", "qemu")
            driver.setAttribute("type", place.format)
            relocated.insert(target)
        }
        let missing = Set(disks.keys).subtracting(relocated)
        guard missing.isEmpty else {
            throw XMLFormatError("the domain has no disk \(missing.sorted().joined(separator: ", ")) to relocate")
        }
    }

    private func set(_ domain: XMLTree.Element, _ child: String, _ text: String) throws(XMLFormatError) {
        (domain.child(child) ?? domain.addChild(child)).setText(text)
    }
}
