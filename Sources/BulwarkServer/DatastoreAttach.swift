package import BulwarkCatalog
package import BulwarkCore
package import BulwarkStore
package import Foundation

/// What `datastore attach` reads from a datastore: the VMs and points its manifests describe.
package enum DatastoreAttach {
    /// How long retention keeps an attached point whose manifest does not say (written before manifests did).
    package static let attachedRetention: TimeInterval = 30 * 86_400

    /// The VMs and points a datastore's manifests describe, and the points whose manifests do not read.
    package static func describe(
        _ store: Datastore, as datastore: ResourceName, now: Date
    ) throws -> (vms: [(uuid: UUID, name: String)], points: [NewRecoveryPoint], damaged: [String]) {
        var names: [UUID: (name: String, at: Date)] = [:]
        var points: [NewRecoveryPoint] = []
        var damaged: [String] = []
        for reference in try store.listRecoveryPoints() {
            do {
                let manifest = try store.readManifest(reference)
                if (names[manifest.vmUUID]?.at ?? .distantPast) <= manifest.createdAt {
                    names[manifest.vmUUID] = (manifest.vmName, manifest.createdAt)
                }
                points.append(
                    NewRecoveryPoint(
                        id: manifest.pointID, vmUUID: manifest.vmUUID, group: nil, datastore: datastore,
                        createdAt: manifest.createdAt, syncKind: SyncKind(manifest.syncKind),
                        consistency: manifest.consistency == .appConsistent ? .applicationConsistent : .crashConsistent,
                        logicalBytes: Int64(clamping: manifest.disks.reduce(UInt64(0)) { $0 + $1.logicalSize }),
                        storedBytes: 0, transferredBytes: 0,
                        retainUntil: manifest.retainUntil ?? now.addingTimeInterval(attachedRetention)))
            } catch {
                damaged.append("\(reference): \(error.message)")
            }
        }
        let vms = names.map { (uuid: $0.key, name: $0.value.name) }.sorted { $0.uuid.uuidString < $1.uuid.uuidString }
        return (vms, points, damaged)
    }

}
