/// The check bulwarkd makes of the domain XML an agent commits with a recovery point, before storing it.
///
/// The XML is the VM's as its host's libvirt described it, so it may hold anything that host allowed
/// (`<hostdev>`, `<qemu:commandline>`): those are stored, because the point should say what the VM was, and never
/// defined anywhere, because a restore builds its definition through ``DomainAllowList``. What is refused here is
/// what cannot be that VM's description: not XML, too big, a document type declaration (entities), another root, a
/// name or UUID of another VM, or committed disks the definition does not have.
public enum CommittedDomain {
    /// The largest domain XML accepted: libvirt's are a few KiB, large ones with many devices tens.
    public static let maximumBytes = 1 << 20

    /// Checks `xml` as the definition of the VM `name` (`uuid`, lowercase with dashes) whose disks `targets` were
    /// backed up; the error says what is wrong.
    public static func check(_ xml: String, name: String, uuid: String, targets: [String]) throws(XMLFormatError) {
        guard xml.utf8.count <= maximumBytes else {
            throw XMLFormatError("the domain XML is \(xml.utf8.count) bytes, more than the \(maximumBytes) accepted")
        }
        let domain = try XMLTree.parse(xml, root: "domain")
        let named = domain.childText("name") ?? ""
        guard named == name else {
            throw XMLFormatError("the domain XML names VM '\(named.prefix(80))', not \(name); send the VM's own definition")
        }
        // Without a UUID the XML claims no other VM (a restore gives it the VM's own); libvirt always writes one.
        if let claimed = domain.childText("uuid"), claimed.lowercased() != uuid.lowercased() {
            throw XMLFormatError("the domain XML has UUID '\(claimed.prefix(40))', not \(uuid); send the VM's own definition")
        }
        let disks = Set(
            (domain.child("devices")?.children("disk") ?? [])
                .filter { ($0.attribute("device") ?? "disk") == "disk" }
                .compactMap { $0.child("target")?.attribute("dev") })
        let missing = targets.filter { !disks.contains($0) }
        guard missing.isEmpty else {
            throw XMLFormatError(
                "the domain XML has no disk \(missing.joined(separator: ", ")), which the commit sends; send the definition the disks were read from")
        }
    }
}
