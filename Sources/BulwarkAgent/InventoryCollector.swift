public import BulwarkAPI
import Foundation
public import Libvirt

/// Reads the host's VMs from libvirt in the shape the server's inventory takes.
public enum InventoryCollector {
    /// Every domain with its protectable disks; whether the guest agent answers is asked of running domains only.
    public static func collect(_ hypervisor: Hypervisor) async throws -> AgentInventoryReport {
        let vms = try await hypervisor.run { connection in
            try connection.listDomains().compactMap { summary -> AgentInventoryReport.VM? in
                guard let uuid = UUID(uuidString: summary.uuid) else { return nil }
                let domain: Domain
                let description: DomainDescription
                do {
                    domain = try connection.domain(uuid: summary.uuid)
                    description = try domain.description()
                } catch let error as LibvirtError where error.code == .noDomain {
                    // Undefined between the listing and the lookup: the next report does not list it.
                    return nil
                }
                let disks = description.protectableDisks.map { disk in
                    VMView.Disk(
                        target: disk.target, format: disk.format ?? "raw",
                        capacityBytes: Int64((try? domain.blockInfo(disk.target).capacity) ?? 0), path: disk.sourcePath)
                }
                let answering = summary.state.isActive && ((try? domain.isGuestAgentAnswering(timeout: 2)) ?? false)
                return AgentInventoryReport.VM(
                    uuid: uuid, name: summary.name, state: stateName(summary.state), guestAgentAnswering: answering,
                    disks: disks)
            }
        }
        return AgentInventoryReport(vms: vms)
    }

    /// libvirt's domain state as the catalog's `VMState` raw value.
    static func stateName(_ state: DomainState) -> String {
        switch state {
        case .running: "running"
        case .blocked: "blocked"
        case .paused: "paused"
        case .shuttingDown: "shutting-down"
        case .shutOff: "shut-off"
        case .crashed: "crashed"
        case .suspended: "suspended"
        case .noState: "unknown"
        }
    }
}
