import DomainXML
import Foundation
import Libvirt

extension RestoreRunner {
    /// The definition a restore hands libvirt: the point's domain XML through ``DomainAllowList``, never the XML
    /// itself, with what this host has (its networks and bridges, and for a VM put back in place the files its
    /// current definition uses). What was left out goes to the job log, one line each.
    func trustedDefinition(
        name: String, uuid: String, disks: [String: DomainAllowList.Disk], keepMACs: Bool, currentXML: String?,
        reporter: TaskReporter, refusal: String
    ) async throws -> String {
        let networks = try await hypervisor.run { try $0.networkNames() }
        let xml = restore.domainXML
        let result = try await runOffCooperativePool { () throws(AgentError) -> DomainAllowList.Result in
            do {
                let hostPaths = try currentXML.map { xml throws(XMLFormatError) in try DomainAllowList.hostPaths(in: xml) } ?? []
                return try DomainAllowList(
                    name: name, uuid: uuid, disks: disks, keepMACs: keepMACs, networks: Set(networks),
                    bridges: Self.hostBridges(), hostPaths: hostPaths
                ).build(from: xml)
            } catch {
                throw AgentError(.invalid, "\(refusal): \(error)")
            }
        }
        for part in result.dropped {
            await reporter.log(.warning, "left out of the restored definition (a point's domain XML is never trusted): \(part)")
        }
        return result.xml
    }

    /// The Linux bridges of this host: the network interfaces with a `bridge` folder in sysfs.
    static func hostBridges() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net")) ?? []
        return Set(names.filter { FileManager.default.fileExists(atPath: "/sys/class/net/\($0)/bridge") })
    }
}
