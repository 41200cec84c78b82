import Foundation
import Libvirt
import Subprocess

/// Bitmaps Bulwark made whose libvirt checkpoint is gone: its metadata was deleted by hand, or lost with a domain
/// that was undefined and defined again. QEMU keeps updating such a bitmap on every guest write and nothing would
/// ever delete it, so a sync that starts a new checkpoint chain removes them. Only `bulwark-*` bitmaps are touched.
extension SyncRunner {
    /// Removes the `bulwark-*` bitmaps in the disks' qcow2 headers that no libvirt checkpoint of the domain names.
    ///
    /// The header lists the bitmaps QEMU loaded when it started (a running VM's newer ones live in its memory
    /// only, and each of those belongs to a checkpoint libvirt knows). On a running VM each stale bitmap is
    /// handed back to libvirt as a checkpoint and deleted through it, so QEMU drops it; on a shut-off VM
    /// `qemu-img bitmap --remove` edits the image. Failures are logged, never fatal: the sync does not need it.
    func removeStaleBitmaps(domain: DomainFacts, reporter: TaskReporter) async {
        let uuid = task.vmUUID.uuidString.lowercased()
        // Every disk's header is read at once, while libvirt lists the checkpoints: each is a qemu-img run.
        async let checkpoints = try? hypervisor.run { try $0.domain(uuid: uuid).checkpoints().map(\.name) }
        let disks = domain.disks.compactMap { disk in disk.format == "qcow2" ? disk.path.map { (disk, path: $0) } : nil }
        let listed = await withTaskGroup(of: (position: Int, names: [String], failure: String?).self) { group in
            for (position, (_, path)) in disks.enumerated() {
                group.addTask {
                    do {
                        // Awaited before the tuple is built: Swift 6.3.1's optimizer can return a wrong `position`
                        // from `(position, try await ...)` in a task group's child (seen here).
                        let names = try await Self.bitmapNames(path)
                        return (position, names, nil)
                    } catch {
                        return (position, [], "\(error)")
                    }
                }
            }
            var listed = Array(repeating: (names: [String](), failure: String?.none), count: disks.count)
            for await done in group { listed[done.position] = (done.names, done.failure) }
            return listed
        }
        let known = Set(await checkpoints ?? domain.checkpoints)
        var stale: [String: [DomainFacts.Disk]] = [:]
        for ((disk, path), listing) in zip(disks, listed) {
            if let failure = listing.failure {
                await reporter.log(.warning, "cannot list the bitmaps of disk \(disk.target) (\(path)): \(failure)")
            }
            for name in listing.names where name.hasPrefix("bulwark-") && !known.contains(name) {
                stale[name, default: []].append(disk)
            }
        }
        for (name, disks) in stale.sorted(by: { $0.key < $1.key }) {
            let targets = disks.map(\.target).joined(separator: ", ")
            do {
                if domain.isActive {
                    try await dropThroughLibvirt(name, disks: disks, all: domain.disks)
                } else {
                    for disk in disks {
                        try await Self.runQemuImg(["bitmap", "--remove", disk.path ?? "", name])
                    }
                }
                await reporter.log(.info, "removed stale bitmap \(name) (no checkpoint names it) from \(targets)")
            } catch {
                await reporter.log(.warning, "cannot remove stale bitmap \(name) from \(targets): \(error)")
            }
        }
    }

    /// Redefines a checkpoint of that name over exactly the disks that hold the bitmap, then deletes it: libvirt
    /// then asks QEMU to drop the bitmaps.
    private func dropThroughLibvirt(_ name: String, disks: [DomainFacts.Disk], all: [DomainFacts.Disk]) async throws {
        let uuid = task.vmUUID.uuidString.lowercased()
        let holders = Set(disks.map(\.target))
        let entries = all.map { disk in
            holders.contains(disk.target)
                ? "<disk name='\(Self.escaped(disk.target))' checkpoint='bitmap' bitmap='\(Self.escaped(name))'/>"
                : "<disk name='\(Self.escaped(disk.target))' checkpoint='no'/>"
        }
        // libvirt requires a creation time on redefinition; any will do for a checkpoint deleted at once.
        let xml = "<domaincheckpoint><name>\(Self.escaped(name))</name><creationTime>1</creationTime><disks>"
            + entries.joined() + "</disks></domaincheckpoint>"
        try await hypervisor.run { connection in
            let checkpoint = try connection.domain(uuid: uuid).redefineCheckpoint(xml: xml, validate: false)
            do {
                try checkpoint.delete()
            } catch {
                try? checkpoint.delete(metadataOnly: true)
                throw error
            }
        }
    }

    /// The persistent bitmaps a qcow2 image's header lists, read by `qemu-img info` (shared, so a running VM's
    /// image can be read).
    static func bitmapNames(_ path: String) async throws -> [String] {
        struct Info: Decodable {
            struct Specific: Decodable {
                struct Data: Decodable {
                    struct Bitmap: Decodable { var name: String }
                    var bitmaps: [Bitmap]?
                }
                var data: Data?
            }
            var formatSpecific: Specific?
            enum CodingKeys: String, CodingKey { case formatSpecific = "format-specific" }
        }
        let output = try await runQemuImg(["info", "--force-share", "--output=json", path])
        let info = try JSONDecoder().decode(Info.self, from: Data(output.utf8))
        return info.formatSpecific?.data?.bitmaps?.map(\.name) ?? []
    }

    @discardableResult
    static func runQemuImg(_ arguments: [String]) async throws -> String {
        let outcome = try await Subprocess.run(
            .name("qemu-img"), arguments: Arguments(arguments), output: .string(limit: 1 << 20),
            error: .string(limit: 16 << 10))
        guard outcome.terminationStatus.isSuccess else {
            let reason = outcome.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw AgentError(.libvirt, "qemu-img \(arguments.joined(separator: " ")) failed: \(reason)")
        }
        return outcome.standardOutput
    }

    private static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "'", with: "&apos;")
            .replacingOccurrences(of: "<", with: "&lt;")
    }
}
