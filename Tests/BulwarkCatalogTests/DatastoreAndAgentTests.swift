import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct DatastoreTests {
    @Test func addListShowRemove() async throws {
        try await withCatalog { catalog, _ in
            let added = try await catalog.addDatastore(
                name: name("main"), path: path("/srv/backup/main"), chunkSize: try ChunkSize(parsing: "1M"), now: t0)
            #expect(added.chunkSize.bytes == 1 << 20 && added.createdAt == t0)
            _ = try await catalog.addDatastore(name: name("Archive"), path: path("/srv/archive"), now: t0)
            #expect(try await catalog.datastores().map(\.name.rawValue) == ["Archive", "main"])
            let shown = try await catalog.datastore(named: name("MAIN"))
            #expect(shown.path == path("/srv/backup/main") && shown.groups.isEmpty && shown.recoveryPointCount == 0)
            #expect(try await catalog.datastore(named: name("Archive")).chunkSize == .default)
            try await catalog.removeDatastore(named: name("main"))
            await expectCatalogError(.notFound, "no datastore is named 'main'", "Archive") {
                try await catalog.datastore(named: name("main"))
            }
        }
    }

    @Test func refusesTakenNamesAndPathsAndNesting() async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/backup/main"), now: t0)
            await expectCatalogError(.alreadyExists, "'main' already exists") {
                try await catalog.addDatastore(name: name("Main"), path: path("/srv/other"), now: t0)
            }
            await expectCatalogError(.alreadyExists, "already uses /srv/backup/main") {
                try await catalog.addDatastore(name: name("second"), path: path("/srv/backup/main/"), now: t0)
            }
            await expectCatalogError(.conflict, "inside datastore 'main'") {
                try await catalog.addDatastore(name: name("inner"), path: path("/srv/backup/main/sub"), now: t0)
            }
            await expectCatalogError(.conflict, "a parent of datastore 'main'") {
                try await catalog.addDatastore(name: name("outer"), path: path("/srv/backup"), now: t0)
            }
            _ = try await catalog.addDatastore(name: name("sibling"), path: path("/srv/backup/main2"), now: t0)
        }
    }

    @Test func refusesToRemoveADatastoreInUse() async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            _ = try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            #expect(try await catalog.datastore(named: name("main")).groups == [name("gold")])
            await expectCatalogError(.conflict, "used by protection group gold") {
                try await catalog.removeDatastore(named: name("main"))
            }
            try await addHost(catalog, "kvm1")
            let vm = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [vm], now: t0)
            try await catalog.insertRecoveryPoint(NewRecoveryPoint(
                vmUUID: vm.uuid, group: name("gold"), datastore: name("main"), createdAt: t0, syncKind: .full,
                consistency: .crashConsistent, logicalBytes: 10, storedBytes: 5, transferredBytes: 10,
                retainUntil: t0.addingTimeInterval(86_400)))
            try await catalog.deleteGroup(named: name("gold"))
            await expectCatalogError(.conflict, "holds 1 recovery point") {
                try await catalog.removeDatastore(named: name("main"))
            }
            await expectCatalogError(.notFound) { try await catalog.removeDatastore(named: name("nope")) }
        }
    }
}

@Suite struct AgentTests {
    @Test func upsertListShowTouchRemove() async throws {
        try await withCatalog { catalog, _ in
            try await addHost(catalog, "kvm2")
            try await addHost(catalog, "kvm1")
            #expect(try await catalog.agents().map(\.host) == ["kvm1", "kvm2"])
            let again = try await catalog.upsertAgent(
                AgentRegistration(host: "KVM1", certificateFingerprint: "new", certificatePEM: "NEW"),
                now: t0.addingTimeInterval(10))
            #expect(again.host == "kvm1" && again.certificateFingerprint == "new")
            #expect(try await catalog.agents().count == 2)
            #expect(try await catalog.agent(certificateFingerprint: "new")?.host == "kvm1")
            #expect(try await catalog.agent(certificateFingerprint: "old") == nil)
            try await catalog.touchAgent(host: "kvm2", at: t0.addingTimeInterval(99))
            #expect(try await catalog.agent(host: "kvm2").lastSeenAt == t0.addingTimeInterval(99))
            try await catalog.removeAgent(host: "kvm2")
            await expectCatalogError(.notFound, "no agent is enrolled for host 'kvm2'", "kvm1") {
                try await catalog.agent(host: "kvm2")
            }
        }
    }

    @Test func refusesBadHostNames() async throws {
        try await withCatalog { catalog, _ in
            for bad in ["", "kvm/1", "kvm 1", String(repeating: "a", count: 254)] {
                await expectCatalogError(.invalid, "host name") { try await addHost(catalog, bad) }
            }
        }
    }
}
