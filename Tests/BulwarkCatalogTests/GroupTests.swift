import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct GroupTests {
    /// A catalog with datastore `main`, hosts kvm1 and kvm2, and VMs kvm1/web1, kvm1/db1, kvm2/db1.
    func withFleet(_ body: (Catalog) async throws -> Void) async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            try await addHost(catalog, "kvm1")
            try await addHost(catalog, "kvm2")
            try await catalog.replaceInventory(host: "kvm1", vms: [reported("web1"), reported("db1")], now: t0)
            try await catalog.replaceInventory(host: "kvm2", vms: [reported("db1")], now: t0)
            try await body(catalog)
        }
    }

    @Test func createListShowModifyDelete() async throws {
        try await withFleet { catalog in
            let policy = try ProtectionPolicy(retentionDays: 30, syncFrequency: .hourly)
            let gold = try await catalog.createGroup(name: name("gold"), datastore: name("MAIN"), policy: policy, now: t0)
            #expect(gold.datastore == name("main") && gold.policy == policy && gold.members.isEmpty)
            try await catalog.createGroup(name: name("Bronze"), datastore: name("main"), now: t0)
            #expect(try await catalog.groups().map(\.name.rawValue) == ["Bronze", "gold"])
            #expect(try await catalog.group(named: name("bronze")).policy == .default)

            let changed = try await catalog.modifyGroupPolicy(named: name("gold"), now: t0.addingTimeInterval(5)) {
                try $0.applying(
                    ProtectionPolicy.Options(retentionDays: "60", quiesce: "required"), now: t0,
                    calendar: Calendar(identifier: .gregorian))
            }
            #expect(changed.policy.retentionDays == 60 && changed.policy.quiesce == .required)
            #expect(changed.policy.syncFrequency == .hourly)
            #expect(changed.modifiedAt == t0.addingTimeInterval(5) && changed.createdAt == t0)
            #expect(try await catalog.group(named: name("gold")).policy == changed.policy)

            try await catalog.setGroupPolicy(named: name("gold"), policy: .default)
            #expect(try await catalog.group(named: name("gold")).policy == .default)

            let deleted = try await catalog.deleteGroup(named: name("gold"))
            #expect(deleted.name == name("gold"))
            await expectCatalogError(.notFound, "no protection group is named 'gold'", "Bronze") {
                try await catalog.group(named: name("gold"))
            }
        }
    }

    @Test func refusesDuplicatesUnknownDatastoresAndInvalidPolicies() async throws {
        try await withFleet { catalog in
            try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            await expectCatalogError(.alreadyExists, "'gold' already exists") {
                try await catalog.createGroup(name: name("GOLD"), datastore: name("main"), now: t0)
            }
            await expectCatalogError(.notFound, "no datastore is named 'nope'", "main") {
                try await catalog.createGroup(name: name("silver"), datastore: name("nope"), now: t0)
            }
            await expectCatalogError(.invalid, "--retention-days", "'0'") {
                try await catalog.modifyGroupPolicy(named: name("gold")) {
                    try $0.applying(.init(retentionDays: "0"), now: t0, calendar: Calendar(identifier: .gregorian))
                }
            }
            #expect(try await catalog.group(named: name("gold")).policy == .default)
            await expectCatalogError(.notFound) { try await catalog.deleteGroup(named: name("silver")) }
        }
    }

    @Test func membersJoinOneGroupOnly() async throws {
        try await withFleet { catalog in
            try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            try await catalog.createGroup(name: name("silver"), datastore: name("main"), now: t0)
            let gold = try await catalog.addMembers(
                group: name("gold"), vms: [vmRef("web1"), vmRef("kvm2/db1")], now: t0)
            #expect(gold.members.map(\.host) == ["kvm1", "kvm2"])
            #expect(gold.members.map(\.vmName) == ["web1", "db1"])
            // Adding a member again is harmless.
            #expect(try await catalog.addMembers(group: name("gold"), vms: [vmRef("kvm1/web1")]).members.count == 2)

            await expectCatalogError(
                .conflict, "VM kvm1/web1 is already in protection group 'gold'", "bulwark group remove gold kvm1/web1"
            ) {
                try await catalog.addMembers(group: name("silver"), vms: [vmRef("kvm1/db1"), vmRef("kvm1/web1")])
            }
            // All or nothing: kvm1/db1 was not added either.
            #expect(try await catalog.group(named: name("silver")).members.isEmpty)
            #expect(try await catalog.resolveVM(vmRef("kvm1/db1")).group == nil)

            await expectCatalogError(.ambiguous, "db1") {
                try await catalog.addMembers(group: name("silver"), vms: [vmRef("db1")])
            }
            await expectCatalogError(.notFound, "no VM is named 'mail'") {
                try await catalog.addMembers(group: name("silver"), vms: [vmRef("mail")])
            }
            await expectCatalogError(.notFound, "no protection group is named 'copper'") {
                try await catalog.addMembers(group: name("copper"), vms: [vmRef("web1")])
            }
        }
    }

    @Test func removingMembersAndGroupsKeepsRecoveryPoints() async throws {
        try await withFleet { catalog in
            try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("web1"), vmRef("kvm1/db1")], now: t0)
            let web = try await catalog.resolveVM(vmRef("web1"))
            try await catalog.insertRecoveryPoint(NewRecoveryPoint(
                vmUUID: web.uuid, group: name("gold"), datastore: name("main"), createdAt: t0, syncKind: .full,
                consistency: .applicationConsistent, logicalBytes: 100, storedBytes: 50, transferredBytes: 100,
                retainUntil: t0.addingTimeInterval(86_400)))

            await expectCatalogError(.notFound, "VM kvm2/db1 is not in protection group 'gold'", "in no group") {
                try await catalog.removeMembers(group: name("gold"), vms: [vmRef("kvm2/db1")])
            }
            let after = try await catalog.removeMembers(group: name("gold"), vms: [vmRef("web1")])
            #expect(after.members.map(\.vmName) == ["db1"])
            #expect(try await catalog.recoveryPoints(vm: web.uuid).count == 1)
            #expect(try await catalog.vms(unprotectedOnly: true).map(\.reference) == ["kvm1/web1", "kvm2/db1"])

            try await catalog.deleteGroup(named: name("gold"))
            let points = try await catalog.recoveryPoints(vm: web.uuid)
            #expect(points.count == 1 && points[0].group == nil)
            #expect(try await catalog.vms(unprotectedOnly: true).count == 3)
        }
    }
}
