import ArgumentParser
import Foundation
import Libvirt

/// `bulwark-agent inventory`: lists the domains of this host and their disks.
struct Inventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List this host's virtual machines and their disks, as the agent reports them.")

    @Option(name: .long, help: "The libvirt URI to read.")
    var libvirt = "qemu:///system"

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    struct Entry: Codable, Sendable {
        var domain: DomainSummary
        var disks: [DiskDescription]
    }

    func run() async throws {
        let hypervisor = try await Hypervisor.open(uri: libvirt)
        let entries = try await hypervisor.run { connection in
            try connection.listDomains().map { summary in
                Entry(domain: summary, disks: try connection.domain(uuid: summary.uuid).description().protectableDisks)
            }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        if entries.isEmpty { print("no domains on \(libvirt)") }
        for entry in entries {
            print("\(entry.domain.name)  \(entry.domain.uuid)  \(entry.domain.state)")
            for disk in entry.disks {
                print("  \(disk.target)  \(disk.format ?? "?")  \(disk.bus ?? "?")  \(disk.sourcePath ?? "-")")
            }
        }
    }
}
