import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

/// Attaching a datastore another server wrote: its VMs and points recorded in one transaction, or nothing.
@Suite struct AttachTests {
    static func point(_ id: RecoveryPointID, vm: UUID, datastore: String) throws -> NewRecoveryPoint {
        NewRecoveryPoint(
            id: id, vmUUID: vm, group: nil, datastore: try ResourceName(datastore), createdAt: t0, syncKind: .full,
            consistency: .crashConsistent, logicalBytes: 1 << 20, storedBytes: 0, transferredBytes: 0,
            retainUntil: t0.addingTimeInterval(86_400))
    }

    @Test func vmsWithoutAHostAndPointsOrNothing() async throws {
        try await withCatalog { catalog, _ in
            let vm = UUID()
            let id = RecoveryPointID.generate()
            let attached = try await catalog.attachDatastore(
                name: ResourceName("rescued"), path: AbsolutePath(parsing: "/srv/rescued"), chunkSize: .default,
                vms: [(vm, "web1")], points: [try Self.point(id, vm: vm, datastore: "rescued")])
            #expect(attached.recoveryPointCount == 1)
            let vms = try await catalog.vms()
            #expect(vms.map(\.uuid) == [vm])
            #expect(vms.first?.host == nil)
            #expect(try await catalog.recoveryPoints(vm: vm).map(\.id) == [id])

            // The same point again, from a second copy of the datastore: refused, and the second datastore is not
            // recorded either.
            await expectCatalogError(.alreadyExists, "\(id)") {
                try await catalog.attachDatastore(
                    name: ResourceName("again"), path: AbsolutePath(parsing: "/srv/again"), chunkSize: .default,
                    vms: [(vm, "web1")], points: [try Self.point(id, vm: vm, datastore: "again")])
            }
            #expect(try await catalog.datastores().map(\.name.rawValue) == ["rescued"])
        }
    }
}
