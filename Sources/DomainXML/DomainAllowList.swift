/// A recovery point's domain XML made into a definition a host can run without trusting the point: a new document
/// built from an allow-list, with the list of what was left out.
///
/// The XML in a point is what the source host's libvirt said, and whoever was root there (or could edit the VM)
/// chose it: `<qemu:commandline>` runs any QEMU argument on the target, `<hostdev>` hands it a host device,
/// `<filesystem>` a host folder, a disk, kernel or serial path a host file that libvirt makes readable (or writable)
/// for QEMU, `<seclabel type='none'>` turns confinement off. So nothing is copied because it was there: only the
/// parts below are, each rebuilt from what it needs, and everything else is named in ``Result/dropped`` for the
/// restore's job log. A deny-list would miss what it did not think of; an allow-list misses only features.
///
/// What is kept, and why it is safe:
/// - name, UUID (the caller's), title, description, memory, vCPUs, `<cpu>`, `<features>`, `<clock>`, `<pm>`,
///   `on_*` actions: guest-visible configuration, no host resource beyond CPU and memory.
/// - `<os>`: type with arch and machine, boot order, boot menu, `firmware='efi'|'bios'` autoselection; a loader,
///   NVRAM template, kernel, initrd or DTB only at a path under ``firmwareFolders`` (packaged firmware) or in
///   ``hostPaths`` (what the host's own definition of the VM uses); an NVRAM file only from ``hostPaths``, else
///   libvirt makes a new one from the template. Any other path would be a host file opened for QEMU.
/// - disks named in ``disks`` only (the ones Bulwark backed up and wrote), rebuilt as file disks at Bulwark's path
///   and format: no CD-ROM image, LUN, block or network source from the point.
/// - interfaces of type `network` on a network in ``networks``, or `bridge` on a bridge in ``bridges`` (both as the
///   target host has them), with their model, boot order and address; their MAC only when ``keepMACs``.
/// - serial ports and consoles as `pty` (a file path from the point is a host file QEMU writes, a TCP or UDP one a
///   socket it opens), unless the file is in ``hostPaths``.
/// - the guest agent channel (`unix`, no path: libvirt picks its own socket), input (mouse, tablet, keyboard: not
///   `passthrough`/`evdev`, which name host devices), video models, VNC or SPICE graphics with only `autoport`
///   (where they listen is the target's `qemu.conf` business), controllers, the memory balloon, and an RNG fed
///   from `/dev/urandom`, `/dev/random` or QEMU's builtin source: none names a host resource.
/// - the emulator only when in ``hostPaths``; otherwise libvirt picks the host's QEMU for the arch.
public struct DomainAllowList: Sendable {
    /// Where one disk of the restored VM lives.
    public struct Disk: Sendable, Hashable {
        public var path: String
        /// `qcow2` or `raw`.
        public var format: String
        public init(path: String, format: String) {
            self.path = path
            self.format = format
        }
    }

    /// The definition to hand to libvirt, and what of the point's was left out, one line each.
    public struct Result: Sendable, Hashable {
        public var xml: String
        public var dropped: [String]
    }

    public var name: String
    public var uuid: String
    /// By target (`vda`); every one must be a disk of the point's definition.
    public var disks: [String: Disk]
    /// Whether interfaces keep the point's MAC addresses (the VM put back in place), or get new ones (a copy).
    public var keepMACs: Bool
    /// The libvirt networks the target host has.
    public var networks: Set<String>
    /// The Linux bridges the target host has.
    public var bridges: Set<String>
    /// Host files the target host's own definition of this VM uses (kernel, loader, NVRAM, console log,
    /// emulator): trusted because the host's admin chose them, not the point.
    public var hostPaths: Set<String>

    /// Folders whose files may be firmware, kernel or loader of a restored VM: what distributions package (OVMF,
    /// SeaBIOS, QEMU's own firmware), readable by anyone anyway.
    public static let firmwareFolders = ["/usr/share/"]

    public init(
        name: String, uuid: String, disks: [String: Disk], keepMACs: Bool = false, networks: Set<String> = [],
        bridges: Set<String> = [], hostPaths: Set<String> = []
    ) {
        self.name = name
        self.uuid = uuid
        self.disks = disks
        self.keepMACs = keepMACs
        self.networks = networks
        self.bridges = bridges
        self.hostPaths = hostPaths
    }

    /// Builds the definition from `xml`; throws when it is not a domain or lacks a disk of ``disks``.
    public func build(from xml: String) throws(XMLFormatError) -> Result {
        let domain = try XMLTree.parse(xml, root: "domain")
        var builder = Builder(allowList: self)
        let type = domain.attribute("type") ?? "kvm"
        if !["kvm", "qemu"].contains(type) { builder.drop("domain type '\(type)' (made kvm)") }
        var children = [XMLTree.Node("name", text: name), XMLTree.Node("uuid", text: uuid)]
        for element in domain.elements {
            if let kept = try builder.domainChild(element) { children.append(contentsOf: kept) }
        }
        let missing = Set(disks.keys).subtracting(builder.restoredDisks)
        guard missing.isEmpty else {
            throw XMLFormatError("the point's domain has no disk \(missing.sorted().joined(separator: ", ")) to restore")
        }
        let root = XMLTree.Node("domain", [("type", ["kvm", "qemu"].contains(type) ? type : "kvm")], children: children)
        return Result(xml: root.xml, dropped: builder.dropped)
    }

    /// Paths the definition of a VM names on its host: the ones ``hostPaths`` takes from the host's current
    /// definition of the VM restored in place.
    public static func hostPaths(in xml: String) throws(XMLFormatError) -> Set<String> {
        let domain = try XMLTree.parse(xml, root: "domain")
        var paths = Set<String>()
        if let os = domain.child("os") {
            for name in ["loader", "nvram", "kernel", "initrd", "dtb"] {
                for element in os.children(name) {
                    if !element.text.isEmpty { paths.insert(element.text) }
                    if let template = element.attribute("template") { paths.insert(template) }
                }
            }
        }
        if let devices = domain.child("devices") {
            for emulator in devices.children("emulator") where !emulator.text.isEmpty { paths.insert(emulator.text) }
            for port in devices.children("serial") + devices.children("console") where port.attribute("type") == "file" {
                if let path = port.child("source")?.attribute("path") { paths.insert(path) }
            }
        }
        return paths
    }

    /// Whether a host file named by the point may be used: the host's own, or packaged firmware.
    func trusts(_ path: String) -> Bool {
        if hostPaths.contains(path) { return true }
        guard path.hasPrefix("/"), !path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) else {
            return false
        }
        return Self.firmwareFolders.contains { path.hasPrefix($0) }
    }
}

/// One build: the new document's parts, and the list of what was left out.
private struct Builder {
    let allowList: DomainAllowList
    var dropped: [String] = []
    var restoredDisks = Set<String>()

    init(allowList: DomainAllowList) { self.allowList = allowList }

    mutating func drop(_ what: String) { dropped.append(what) }

    /// What `element`, a child of `<domain>`, becomes: nil or nothing when it is left out.
    mutating func domainChild(_ element: XMLTree.Element) throws(XMLFormatError) -> [XMLTree.Node]? {
        if element.isNamespaced {
            drop(describe(element))
            return nil
        }
        switch element.name {
        case "name", "uuid", "id":
            // Replaced by the caller's, or made by libvirt.
            return nil
        case "title", "description", "on_poweroff", "on_reboot", "on_crash", "on_lockfailure":
            return [XMLTree.Node(element.name, text: element.text)]
        case "memory", "currentMemory", "vcpu":
            return [XMLTree.Node(element.name, element.attributes.filter { $0.0 != "cpuset" }, text: element.text)]
        case "cpu", "features", "clock", "pm":
            return [copy(element)]
        case "os":
            return [os(element)]
        case "devices":
            return [try devices(element)]
        case "seclabel" where element.attribute("type") == "dynamic" && element.attribute("relabel") != "no":
            // libvirt's own labelling, which it makes anew on the target.
            return nil
        case "resource" where element.child("partition")?.text == "/machine" && element.elements.count == 1:
            // libvirt's default cgroup partition.
            return nil
        default:
            drop(describe(element))
            return nil
        }
    }

    /// `<os>`: its type, boot settings, and firmware the target host has (see ``DomainAllowList``).
    mutating func os(_ os: XMLTree.Element) -> XMLTree.Node {
        var attributes: [(String, String)] = []
        if let firmware = os.attribute("firmware") {
            if ["efi", "bios"].contains(firmware) { attributes.append(("firmware", firmware)) } else { drop("<os firmware='\(firmware)'>") }
        }
        var children: [XMLTree.Node] = []
        for element in os.elements where !element.isNamespaced {
            switch element.name {
            case "type":
                children.append(XMLTree.Node("type", keep(element, ["arch", "machine"]), text: element.text))
            case "boot":
                children.append(XMLTree.Node("boot", keep(element, ["dev"])))
            case "bootmenu":
                children.append(XMLTree.Node("bootmenu", keep(element, ["enable", "timeout"])))
            case "bios":
                children.append(XMLTree.Node("bios", keep(element, ["useserial", "rebootTimeout"])))
            case "firmware":
                // Features the autoselected firmware must have (secure boot): no paths.
                children.append(copy(element))
            case "loader":
                let path = element.text
                guard path.isEmpty || allowList.trusts(path) else {
                    drop("<loader> \(path): not firmware this host has under \(DomainAllowList.firmwareFolders.joined(separator: ", "))")
                    continue
                }
                children.append(XMLTree.Node("loader", keep(element, ["readonly", "type", "secure"]), text: path.isEmpty ? nil : path))
            case "nvram":
                var attributes: [(String, String)] = []
                if let template = element.attribute("template") {
                    if allowList.trusts(template) { attributes.append(("template", template)) } else { drop("<nvram template='\(template)'>") }
                }
                let path = element.text
                // A new VM gets a new NVRAM file from libvirt, beside the others; a path of the point's would be a
                // host file QEMU writes.
                let keepPath = !path.isEmpty && allowList.hostPaths.contains(path)
                if !path.isEmpty && !keepPath { drop("<nvram> \(path) (libvirt makes a new one)") }
                if keepPath || !attributes.isEmpty {
                    children.append(XMLTree.Node("nvram", attributes, text: keepPath ? path : nil))
                }
            case "kernel", "initrd", "dtb":
                let path = element.text
                guard allowList.trusts(path) else {
                    drop(
                        "<\(element.name)> \(path): neither packaged firmware nor a file this host's definition of the VM"
                            + " uses; set it again with `virsh edit` if the file is safe to hand to QEMU")
                    continue
                }
                children.append(XMLTree.Node(element.name, text: path))
            case "cmdline":
                // Handed to the kernel, and meaningful only with one.
                if os.child("kernel").map({ allowList.trusts($0.text) }) == true {
                    children.append(XMLTree.Node("cmdline", text: element.text))
                } else {
                    drop("<cmdline> \(element.text) (its kernel was left out)")
                }
            default:
                drop("<os>" + describe(element))
            }
        }
        return XMLTree.Node("os", attributes, children: children)
    }

    /// `<devices>`: the allowed devices, rebuilt (see ``DomainAllowList``).
    mutating func devices(_ devices: XMLTree.Element) throws(XMLFormatError) -> XMLTree.Node {
        var children: [XMLTree.Node] = []
        for element in devices.elements {
            if element.isNamespaced {
                drop(describe(element))
                continue
            }
            let type = element.attribute("type")
            switch element.name {
            case "emulator":
                if allowList.hostPaths.contains(element.text) {
                    children.append(XMLTree.Node("emulator", text: element.text))
                } else {
                    drop("<emulator> \(element.text) (libvirt picks this host's QEMU)")
                }
            case "disk":
                if let disk = disk(element) { children.append(disk) }
            case "interface":
                if let interface = interface(element) { children.append(interface) }
            case "serial", "console":
                children.append(port(element))
            case "channel":
                let target = element.child("target")
                guard type == "unix", target?.attribute("type") == "virtio",
                    target?.attribute("name") == "org.qemu.guest_agent.0"
                else {
                    drop(describe(element))
                    continue
                }
                // No source: libvirt makes the socket under its own folder.
                children.append(XMLTree.Node("channel", [("type", "unix")], children: [
                    XMLTree.Node("target", [("type", "virtio"), ("name", "org.qemu.guest_agent.0")]),
                ] + addresses(element)))
            case "input":
                guard let type, ["mouse", "tablet", "keyboard"].contains(type) else {
                    drop(describe(element))
                    continue
                }
                children.append(XMLTree.Node("input", keep(element, ["type", "bus"]), children: addresses(element)))
            case "video":
                children.append(XMLTree.Node("video", children: element.children("model").map(copy) + addresses(element)))
            case "graphics":
                guard let type, ["vnc", "spice"].contains(type) else {
                    drop(describe(element))
                    continue
                }
                // libvirt writes `<listen type='address'/>` for the host's default: only an address, network or
                // socket of the point's own is news worth logging.
                let ownListen = element.children("listen").contains { listen in
                    listen.attributes.contains { $0.0 != "type" } || listen.attribute("type") != "address"
                }
                if element.attribute("passwd") != nil || element.attribute("listen") != nil || element.attribute("socket") != nil
                    || ownListen
                {
                    drop("<graphics type='\(type)'> listen address and password (this host's qemu.conf decides)")
                }
                children.append(XMLTree.Node("graphics", [("type", type), ("autoport", "yes")]))
            case "controller", "memballoon":
                children.append(copy(element))
            case "audio" where element.attribute("type") == "none":
                // What libvirt adds for a VM without sound: no host audio server.
                children.append(XMLTree.Node("audio", keep(element, ["id", "type"])))
            case "rng":
                let backend = element.child("backend")
                let source = backend?.text ?? ""
                let builtin = backend?.attribute("model") == "builtin"
                let random = backend?.attribute("model") == "random" && ["", "/dev/urandom", "/dev/random"].contains(source)
                guard element.attribute("model") == "virtio", builtin || random, let backend else {
                    drop(describe(element))
                    continue
                }
                children.append(XMLTree.Node("rng", [("model", "virtio")], children: [
                    XMLTree.Node("backend", keep(backend, ["model"]), text: source.isEmpty ? nil : source),
                ] + element.children("rate").map(copy) + addresses(element)))
            default:
                drop(describe(element))
            }
        }
        return XMLTree.Node("devices", children: children)
    }

    /// A disk Bulwark wrote, at its new path; any other disk is left out.
    mutating func disk(_ element: XMLTree.Element) -> XMLTree.Node? {
        let device = element.attribute("device") ?? "disk"
        let target = element.child("target")
        guard let dev = target?.attribute("dev"), let place = allowList.disks[dev], device == "disk",
            !restoredDisks.contains(dev)
        else {
            let source = element.child("source")
            let from = source?.attribute("file") ?? source?.attribute("dev") ?? source?.attribute("name")
                ?? source?.attribute("volume")
            drop(
                "<disk type='\(element.attribute("type") ?? "file")' device='\(device)'> "
                    + (target?.attribute("dev") ?? "without a target") + (from.map { " (\($0))" } ?? "")
                    + ": not a disk this restore wrote")
            return nil
        }
        restoredDisks.insert(dev)
        // The point's caching and discard choices are the guest's business; no attribute names a host resource.
        var driver = [("name", "qemu"), ("type", place.format)]
        if let old = element.child("driver") {
            driver += keep(old, ["cache", "io", "discard", "detect_zeroes"])
        }
        var children = [
            XMLTree.Node("driver", driver),
            XMLTree.Node("source", [("file", place.path)]),
            XMLTree.Node("target", keep(target!, ["dev", "bus"])),
        ]
        children += element.children("boot").map { XMLTree.Node("boot", keep($0, ["order"])) }
        children += element.children("serial").map { XMLTree.Node("serial", text: $0.text) }
        children += addresses(element)
        return XMLTree.Node("disk", [("type", "file"), ("device", "disk")], children: children)
    }

    /// An interface on a network or bridge the host has; any other is left out.
    mutating func interface(_ element: XMLTree.Element) -> XMLTree.Node? {
        let type = element.attribute("type") ?? ""
        let source = element.child("source")
        let network = type == "network" ? source?.attribute("network") : nil
        let bridge = type == "bridge" ? source?.attribute("bridge") : nil
        let sourceNode: XMLTree.Node
        if let network, allowList.networks.contains(network) {
            sourceNode = XMLTree.Node("source", [("network", network)])
        } else if let bridge, allowList.bridges.contains(bridge) {
            sourceNode = XMLTree.Node("source", [("bridge", bridge)])
        } else {
            let on = network.map { " on network \($0), which this host does not have" }
                ?? bridge.map { " on bridge \($0), which this host does not have" } ?? ""
            drop(describe(element) + on)
            return nil
        }
        var children = [sourceNode]
        if allowList.keepMACs, let mac = element.child("mac") { children.append(XMLTree.Node("mac", keep(mac, ["address"]))) }
        children += element.children("model").map { XMLTree.Node("model", keep($0, ["type"])) }
        children += element.children("boot").map { XMLTree.Node("boot", keep($0, ["order"])) }
        children += addresses(element)
        return XMLTree.Node("interface", [("type", type)], children: children)
    }

    /// A serial port or console as a pseudo-terminal, or as the host's own log file.
    mutating func port(_ element: XMLTree.Element) -> XMLTree.Node {
        let type = element.attribute("type") ?? "pty"
        let target = element.child("target").map { target in
            XMLTree.Node("target", keep(target, ["type", "port"]), children: target.children("model").map { XMLTree.Node("model", keep($0, ["name"])) })
        }
        if type == "file", let path = element.child("source")?.attribute("path"), allowList.hostPaths.contains(path) {
            let source = XMLTree.Node("source", [("path", path)] + keep(element.child("source")!, ["append"]))
            return XMLTree.Node(element.name, [("type", "file")], children: [source] + (target.map { [$0] } ?? []))
        }
        if type != "pty" {
            let source = element.child("source")
            let detail = source?.attribute("path") ?? source?.attribute("host").map { "\($0):\(source?.attribute("service") ?? "")" }
            drop("<\(element.name) type='\(type)'>" + (detail.map { " \($0)" } ?? "") + " (made a pty)")
        }
        return XMLTree.Node(element.name, [("type", "pty")], children: target.map { [$0] } ?? [])
    }

    /// The element's `<address>` (a guest bus position: no host resource).
    func addresses(_ element: XMLTree.Element) -> [XMLTree.Node] {
        element.children("address").map { XMLTree.Node("address", $0.attributes) }
    }

    /// The attributes of `element` called one of `names`.
    func keep(_ element: XMLTree.Element, _ names: Set<String>) -> [(String, String)] {
        element.attributes.filter { names.contains($0.0) }
    }

    /// `element` copied whole, but for namespaced parts and libvirt's runtime aliases, for parts whose whole
    /// vocabulary names no host resource.
    func copy(_ element: XMLTree.Element) -> XMLTree.Node {
        let children = element.elements.filter { !$0.isNamespaced && $0.name != "alias" }
        return XMLTree.Node(
            element.name, element.attributes,
            text: children.isEmpty && !element.text.isEmpty ? element.text : nil, children: children.map(copy))
    }

    /// How the job log names a left-out element: `<hostdev mode='subsystem' type='pci'>`.
    func describe(_ element: XMLTree.Element) -> String {
        let shown = element.attributes.filter { ["type", "mode", "model", "device"].contains($0.0) }
            .map { " \($0.0)='\($0.1.prefix(40))'" }.joined()
        return "<\(element.qualifiedName)\(shown)>"
    }
}
