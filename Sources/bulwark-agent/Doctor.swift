import ArgumentParser
import BulwarkAgent
import BulwarkCore
import ChunkFormat
import Foundation
import GuestFiles
import Libvirt

/// `bulwark-agent doctor`: checks that this host can be protected, and says what to fix.
struct Doctor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check this host's prerequisites for Bulwark and say what to fix.",
        discussion: """
            Checks that libvirt answers on the given URI, that libvirt is at least 7.6 and QEMU at least 6.1 \
            (incremental backup through checkpoints), and that the domain capabilities report backup support. For \
            every VM it reads each disk's image header (qcow2 version 3 keeps the dirty bitmaps incremental syncs \
            need; raw disks get consistency-check syncs only) and looks for the guest agent channel (needed to \
            freeze filesystems). It checks the free space of the scratch directory, whether this host is enrolled \
            and, if so, whether the server answers the agent's certificate.

            Each line starts with ok, WARN (works with less, or needs attention) or FAIL, followed by a fix: line. \
            Exits 0 when nothing failed, 1 otherwise. Run as root to read every disk image and the identity.
            """)

    @Option(name: .long, help: "The libvirt URI to check (default: $BULWARK_AGENT_LIBVIRT or qemu:///system).")
    var libvirt: String?

    @Option(
        name: .long, help: "The agent's state directory (default: $BULWARK_AGENT_STATE_DIR or /var/lib/bulwark-agent).")
    var stateDir: String?

    @Option(
        name: .long,
        help: "Where backup jobs put scratch files (default: $BULWARK_AGENT_SCRATCH_DIR or STATE-DIR/scratch).")
    var scratchDir: String?

    @Flag(name: .long, help: "Print JSON: {\"ok\": BOOL, \"checks\": [{\"status\", \"message\", \"fix\"}]}.")
    var json = false

    struct Report: Encodable {
        var ok: Bool
        var checks: [HostCheck]
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let uri = libvirt ?? environment["BULWARK_AGENT_LIBVIRT"] ?? "qemu:///system"
        let state = stateDir ?? environment["BULWARK_AGENT_STATE_DIR"] ?? AgentIdentity.defaultStateDirectory
        let scratch = scratchDir ?? environment["BULWARK_AGENT_SCRATCH_DIR"] ?? "\(state)/scratch"

        let (hostChecks, largestDisk) = await Self.libvirtChecks(uri: uri)
        var checks = hostChecks
        let space = await HostCheck.freeSpace(for: scratch)
        checks.append(
            HostCheck.scratchSpace(
                directory: scratch, measuredAt: space.measuredAt, available: space.available, largestDisk: largestDisk))
        checks += await HostCheck.enrollment(stateDirectory: state)
        checks.append(HostCheck.itemRecovery(libguestfsUnavailable: GuestBrowser.libguestfsUnavailable))
        do {
            let reader = try GuestReaderSandbox.located()
            checks.append(HostCheck.guestReader(helper: reader.helper, helperMissing: nil, bubblewrap: reader.bubblewrap))
        } catch {
            checks.append(HostCheck.guestReader(helper: nil, helperMissing: error.message, bubblewrap: "/usr/bin/bwrap"))
        }

        let ok = !checks.contains { $0.status == .fail }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(Report(ok: ok, checks: checks)), as: UTF8.self))
        } else {
            for check in checks {
                print("\(check.status.label) \(check.message)")
                if let fix = check.fix {
                    print("     fix: " + fix.replacingOccurrences(of: "\n", with: "\n          "))
                }
            }
        }
        if !ok { throw ExitCode(1) }
    }

    /// The libvirt and per-VM checks, and the largest disk seen (the scratch space it may need).
    static func libvirtChecks(uri: String) async -> ([HostCheck], largestDisk: UInt64) {
        let hypervisor: Hypervisor
        do {
            hypervisor = try await Hypervisor.open(uri: uri)
        } catch {
            return (
                [
                    HostCheck(
                        .fail, "cannot connect to libvirt at \(uri): \(error.message)",
                        fix: "start libvirtd (`systemctl start libvirtd`, or `libvirtd -d`), run as root, or pass "
                            + "--libvirt with the right URI")
                ], 0
            )
        }
        var checks = [HostCheck(.ok, "connected to libvirt at \(uri)")]
        // Each question on its own, so one a driver does not support still leaves the others' answers.
        let fix = "check libvirtd's log (`journalctl -u libvirtd`) and that this user may manage domains"
        do {
            let (libvirtVersion, qemuVersion) = try await hypervisor.run { connection in
                (try connection.libvirtVersion(), try connection.hypervisorVersion())
            }
            checks.append(
                HostCheck(
                    libvirtVersion >= Version(major: 7, minor: 6) ? .ok : .fail,
                    "libvirt \(libvirtVersion) (need 7.6 or later)",
                    fix: "upgrade libvirt to 7.6 or later for checkpoints and pull-mode backup"))
            checks.append(
                HostCheck(
                    qemuVersion >= Version(major: 6, minor: 1) ? .ok : .fail, "QEMU \(qemuVersion) (need 6.1 or later)",
                    fix: "upgrade QEMU to 6.1 or later for persistent dirty bitmaps in backup jobs"))
        } catch {
            checks.append(HostCheck(.fail, "cannot read the libvirt and QEMU versions: \(error)", fix: fix))
        }
        do {
            let capabilities = try await hypervisor.run { connection in try connection.domainCapabilities() }
            checks.append(
                HostCheck(
                    capabilities.contains("<backup supported='yes'/>") ? .ok : .fail,
                    "domain capabilities report backup support",
                    fix: "use a QEMU and libvirt build with incremental backup enabled"))
        } catch {
            checks.append(
                HostCheck(
                    .fail, "cannot read the domain capabilities: \(error)",
                    fix: "use the qemu driver (qemu:///system) with incremental backup enabled"))
        }
        let domains: [(name: String, xml: String)]
        do {
            domains = try await hypervisor.run { connection in
                try connection.listDomains().map { ($0.name, try connection.domain(uuid: $0.uuid).xml()) }
            }
        } catch {
            checks.append(HostCheck(.fail, "cannot list the VMs: \(error)", fix: fix))
            return (checks, 0)
        }

        if domains.isEmpty {
            checks.append(HostCheck(.ok, "no VMs defined on \(uri) yet"))
        }
        var largestDisk: UInt64 = 0
        for (name, xml) in domains {
            let description: DomainDescription
            do {
                description = try DomainDescription(xml: xml)
            } catch {
                checks.append(
                    HostCheck(
                        .fail, "VM \(name): its XML cannot be read: \(error)", fix: "check `virsh dumpxml \(name)`"))
                continue
            }
            let disks = description.protectableDisks
            if disks.isEmpty { checks.append(HostCheck(.ok, "VM \(name) has no disks to protect")) }
            for disk in disks {
                var image: Result<DiskImageFormat, DiskImageError>?
                if let path = disk.sourcePath, disk.sourceType == "file" || disk.sourceType == "block" {
                    do {
                        image = .success(try await DiskImageFormat.inspect(path: path))
                    } catch {
                        image = .failure(error)
                    }
                }
                if case .success(let format) = image { largestDisk = max(largestDisk, format.virtualSize) }
                checks.append(HostCheck.disk(domain: name, disk, image: image))
            }
            checks.append(HostCheck.guestAgent(domain: name, xml: xml))
        }
        return (checks, largestDisk)
    }
}
