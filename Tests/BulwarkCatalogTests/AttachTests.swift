@testable import BulwarkCatalog
import BulwarkCore
import Foundation
import GRDB
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

    /// What the manifests cannot say comes from a catalog copy: the group, its policy and members, each point's
    /// group and its retention as last set; a group whose name is taken here is left out and said.
    @Test func protectionComesBackFromACatalogCopy() async throws {
        try await withCatalog { live, directory in
            let copy = try Catalog(path: directory.file("copy.sqlite"))
            let vm = UUID()
            let id = RecoveryPointID.generate()
            try await copy.attachDatastore(
                name: ResourceName("orig"), path: AbsolutePath(parsing: "/srv/orig"), chunkSize: .default,
                vms: [(vm, "db1")], points: [try Self.point(id, vm: vm, datastore: "orig")])
            var policy = ProtectionPolicy.default
            policy.retentionDays = 21
            try await copy.createGroup(name: ResourceName("gold"), datastore: ResourceName("orig"), policy: policy)
            try await copy.addMembers(group: ResourceName("gold"), vms: [try VMReference(parsing: vm.uuidString)])
            let kept = t0.addingTimeInterval(50 * 86_400)
            try await copy.pool.write { db in
                try db.execute(
                    sql: "UPDATE recovery_point SET group_id = (SELECT id FROM protection_group WHERE name = 'gold'), retain_until = ?",
                    arguments: [kept])
            }

            try await live.attachDatastore(
                name: ResourceName("rescued"), path: AbsolutePath(parsing: "/mnt/rescued"), chunkSize: .default,
                vms: [(vm, "db1")], points: [try Self.point(id, vm: vm, datastore: "rescued")])
            let imported = try await live.importProtection(from: copy, into: ResourceName("rescued"))
            #expect(imported.groups.map(\.rawValue) == ["gold"])
            #expect(imported.members == 1 && imported.points == 1 && imported.skipped.isEmpty)
            let group = try await live.group(named: ResourceName("gold"))
            #expect(group.datastore.rawValue == "rescued")
            #expect(group.policy.retentionDays == 21)
            #expect(group.members.map(\.vmUUID) == [vm])
            let point = try await live.recoveryPoint(id: id)
            #expect(point.group?.rawValue == "gold")
            #expect(point.retainUntil == kept)

            // A copy is data from the datastore: a group whose policy breaks the rules is left out, and said.
            let hostile = try Catalog(path: directory.file("hostile.sqlite"))
            try await hostile.attachDatastore(
                name: ResourceName("orig"), path: AbsolutePath(parsing: "/srv/orig"), chunkSize: .default,
                vms: [(vm, "db1")], points: [try Self.point(RecoveryPointID.generate(), vm: vm, datastore: "orig")])
            try await hostile.createGroup(name: ResourceName("evil"), datastore: ResourceName("orig"), policy: policy)
            try await hostile.pool.write { db in
                try db.execute(sql: #"UPDATE protection_group SET policy = '{"retentionDays": 100000}'"#)
            }
            let other = UUID()
            let otherPoint = RecoveryPointID.generate()
            try await hostile.pool.write { db in
                try db.execute(sql: "UPDATE recovery_point SET id = ?", arguments: [otherPoint.description])
            }
            try await live.attachDatastore(
                name: ResourceName("second"), path: AbsolutePath(parsing: "/mnt/second"), chunkSize: .default,
                vms: [(other, "db2")], points: [try Self.point(otherPoint, vm: other, datastore: "second")])
            let refused = try await live.importProtection(from: hostile, into: ResourceName("second"))
            #expect(refused.groups.isEmpty && refused.skipped.first?.contains("evil") == true, "\(refused)")
            await expectCatalogError(.notFound) { try await live.group(named: ResourceName("evil")) }

            // Again: the name is taken now, so the group is left out and said.
            let again = try await live.importProtection(from: copy, into: ResourceName("rescued"))
            #expect(again.groups.isEmpty && again.skipped.first?.contains("gold") == true, "\(again)")
        }
    }
}
