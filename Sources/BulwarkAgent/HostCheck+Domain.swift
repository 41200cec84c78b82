import Foundation
public import ChunkFormat
public import Libvirt

/// The per-VM checks of `bulwark-agent doctor`: disk formats and the guest agent channel.
extension HostCheck {
    /// The guest agent's channel name in domain XML; the agent freezes filesystems through it.
    public static let guestAgentChannel = "org.qemu.guest_agent.0"

    /// What to add to a domain's `<devices>` for a guest agent channel.
    public static let guestAgentSnippet = """
        <channel type='unix'>
          <target type='virtio' name='org.qemu.guest_agent.0'/>
        </channel>
        """

    /// Judges one disk of VM `domain` from what libvirt says (`disk`) and what the image's header says (`image`,
    /// nil when the disk has no local path).
    public static func disk(
        domain: String, _ disk: DiskDescription, image: Result<DiskImageFormat, DiskImageError>?
    ) -> HostCheck {
        let subject = "VM \(domain): disk \(disk.target)"
        let declared = disk.format ?? "raw"
        guard let image, let path = disk.sourcePath else {
            return HostCheck(
                .warn, "\(subject) is a \(disk.sourceType) disk without a local path: not checked",
                fix: "make sure the disk is qcow2 v3 for incremental syncs")
        }
        let convert =
            "with the VM shut off: `qemu-img convert -p -f \(declared) -O qcow2 -o compat=1.1 \(path) NEW.qcow2`, "
            + "point the disk at NEW.qcow2 with <driver type='qcow2'/> (`virsh edit \(domain)`)"
        switch image {
        case .failure(let error):
            return HostCheck(
                .warn, "\(subject): \(error)",
                fix: error.errno == EACCES ? "run `bulwark-agent doctor` as root" : "check that \(path) exists")
        case .success(let format):
            switch (declared, format) {
            case ("qcow2", .qcow2(_, _, true)):
                return HostCheck(
                    .fail, "\(subject) (\(path)) is marked corrupt in its qcow2 header",
                    fix: "with the VM shut off: `qemu-img check -r all \(path)`")
            case ("qcow2", .qcow2(let version, _, _)) where version >= 3:
                return HostCheck(.ok, "\(subject) is qcow2 v\(version): incremental syncs")
            case ("qcow2", .qcow2(let version, _, _)):
                return HostCheck(
                    .fail,
                    "\(subject) (\(path)) is qcow2 v\(version), which cannot keep the dirty bitmaps incremental syncs "
                        + "need",
                    fix: "with the VM shut off: `qemu-img amend -f qcow2 -o compat=1.1 \(path)`")
            case ("qcow2", .notQcow2):
                return HostCheck(
                    .fail, "\(subject): libvirt says qcow2, but \(path) has no qcow2 header",
                    fix: "check the disk's <driver type=...> in `virsh edit \(domain)` against `qemu-img info \(path)`")
            case (_, .qcow2):
                return HostCheck(
                    .warn, "\(subject): libvirt says \(declared), but \(path) has a qcow2 header",
                    fix: "set <driver type='qcow2'/> for this disk (`virsh edit \(domain)`)")
            case (_, .notQcow2):
                return HostCheck(
                    .warn, "\(subject) is \(declared): consistency-check syncs only (no change tracking)",
                    fix: "for incremental syncs convert it to qcow2 v3, \(convert)")
            }
        }
    }

    /// Whether VM `domain`'s XML has the guest agent channel; without it syncs cannot quiesce the guest.
    public static func guestAgent(domain: String, xml: String) -> HostCheck {
        if xml.contains("'\(guestAgentChannel)'") || xml.contains("\"\(guestAgentChannel)\"") {
            return HostCheck(.ok, "VM \(domain) has a guest agent channel")
        }
        return HostCheck(
            .warn,
            "VM \(domain) has no guest agent channel: syncs cannot freeze its filesystems (crash-consistent only)",
            fix: "add to <devices> (`virsh edit \(domain)`), then install qemu-guest-agent in the guest:\n"
                + guestAgentSnippet)
    }
}
