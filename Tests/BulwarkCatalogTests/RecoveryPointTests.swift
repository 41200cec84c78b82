import BulwarkCatalog
import BulwarkCore
import Foundation
import Testing

@Suite struct RecoveryPointTests {
    /// A catalog with datastore `main`, group `gold` and VM kvm1/web1 in it.
    func withProtectedVM(_ body: (Catalog, UUID) async throws -> Void) async throws {
        try await withCatalog { catalog, _ in
            _ = try await catalog.addDatastore(name: name("main"), path: path("/srv/main"), now: t0)
            try await catalog.createGroup(name: name("gold"), datastore: name("main"), now: t0)
            try await addHost(catalog, "kvm1")
            let web = reported("web1")
            try await catalog.replaceInventory(host: "kvm1", vms: [web], now: t0)
            try await catalog.addMembers(group: name("gold"), vms: [vmRef("web1")], now: t0)
            try await body(catalog, web.uuid)
        }
    }

    func point(_ vm: UUID, at offset: TimeInterval, kind: SyncKind = .incremental) -> NewRecoveryPoint {
        NewRecoveryPoint(
            id: .generate(at: t0.addingTimeInterval(offset)), vmUUID: vm, group: name("gold"),
            datastore: name("main"), createdAt: t0.addingTimeInterval(offset), syncKind: kind,
            consistency: .applicationConsistent, logicalBytes: 8 << 30, storedBytes: 1 << 20,
            transferredBytes: 2 << 20, retainUntil: t0.addingTimeInterval(offset + 5 * 86_400))
    }

    @Test func insertListUpdateDelete() async throws {
        try await withProtectedVM { catalog, vm in
            let first = point(vm, at: 0, kind: .full)
            let info = try await catalog.insertRecoveryPoint(first)
            #expect(info.id == first.id && info.vmName == "web1" && info.group == name("gold"))
            #expect(info.datastore == name("main") && info.syncKind == .full && info.state == .committed)
            #expect(info.logicalBytes == 8 << 30 && info.retainUntil == t0.addingTimeInterval(5 * 86_400))
            try await catalog.insertRecoveryPoint(point(vm, at: 3600))
            try await catalog.insertRecoveryPoint(point(vm, at: 7200, kind: .consistencyCheck))
            let listed = try await catalog.recoveryPoints(vm: vm)
            #expect(listed.map(\.syncKind) == [.consistencyCheck, .incremental, .full])
            #expect(try await catalog.recoveryPoints(vm: vm, limit: 1).map(\.syncKind) == [.consistencyCheck])
            #expect(try await catalog.datastore(named: name("main")).recoveryPointCount == 3)

            #expect(try await catalog.updateRecoveryPointState(id: first.id, to: .damaged).state == .damaged)
            #expect(try await catalog.recoveryPoint(id: first.id).state == .damaged)
            let expired = try await catalog.expiredRecoveryPoints(before: t0.addingTimeInterval(5 * 86_400 + 1))
            #expect(expired.map(\.id) == [first.id])

            try await catalog.deleteRecoveryPoint(id: first.id)
            await expectCatalogError(.notFound, "no recovery point has id \(first.id)") {
                try await catalog.recoveryPoint(id: first.id)
            }
            await expectCatalogError(.notFound) { try await catalog.deleteRecoveryPoint(id: first.id) }
            await expectCatalogError(.notFound) { try await catalog.updateRecoveryPointState(id: first.id, to: .verified) }
        }
    }

    @Test func refusesUnknownReferencesAndDuplicates() async throws {
        try await withProtectedVM { catalog, vm in
            let good = point(vm, at: 0)
            try await catalog.insertRecoveryPoint(good)
            await expectCatalogError(.alreadyExists) { try await catalog.insertRecoveryPoint(good) }
            await expectCatalogError(.notFound, "does not know") {
                try await catalog.insertRecoveryPoint(point(UUID(), at: 1))
            }
            var elsewhere = point(vm, at: 2)
            elsewhere.datastore = name("other")
            await expectCatalogError(.notFound, "no datastore is named 'other'") {
                try await catalog.insertRecoveryPoint(elsewhere)
            }
            var negative = point(vm, at: 3)
            negative.storedBytes = -1
            await expectCatalogError(.invalid, "negative") { try await catalog.insertRecoveryPoint(negative) }
            await expectCatalogError(.notFound, "no VM has UUID") { try await catalog.recoveryPoints(vm: UUID()) }
            #expect(try await catalog.recoveryPoints(vm: vm).count == 1)
        }
    }

    @Test func aPointAndItsCheckpointCommitTogether() async throws {
        try await withProtectedVM { catalog, vm in
            func checkpoint(_ name: String, _ offset: TimeInterval) -> NewCheckpoint {
                NewCheckpoint(
                    vmUUID: vm, name: name, host: "kvm1", xml: "<domaincheckpoint><name>\(name)</name></domaincheckpoint>",
                    createdAt: t0.addingTimeInterval(offset))
            }
            var first = point(vm, at: 0, kind: .full)
            first.checkpointName = "bulwark-1"
            try await catalog.insertRecoveryPoint(first, checkpoint: checkpoint("bulwark-1", 0))
            #expect(try await catalog.currentCheckpoint(vm: vm)?.name == "bulwark-1")

            var second = point(vm, at: 60)
            second.checkpointName = "bulwark-2"
            try await catalog.insertRecoveryPoint(second, checkpoint: checkpoint("bulwark-2", 60))
            let chain = try await catalog.checkpoints(vm: vm)
            #expect(chain.map(\.name) == ["bulwark-2", "bulwark-1"])
            #expect(chain.map(\.state) == [.current, .superseded])
            #expect(chain[0].xml.contains("bulwark-2") && chain[0].host == "kvm1")

            // A clashing checkpoint name rolls back the point as well: the transaction is the commit point.
            var third = point(vm, at: 120)
            third.checkpointName = "bulwark-2"
            await expectCatalogError(.alreadyExists, "bulwark-2") {
                try await catalog.insertRecoveryPoint(third, checkpoint: checkpoint("bulwark-2", 120))
            }
            #expect(try await catalog.recoveryPoints(vm: vm).count == 2)

            try await catalog.updateCheckpointState(vm: vm, name: "bulwark-2", to: .invalid)
            #expect(try await catalog.currentCheckpoint(vm: vm) == nil)
            try await catalog.deleteCheckpoint(vm: vm, name: "bulwark-1")
            #expect(try await catalog.checkpoints(vm: vm).map(\.name) == ["bulwark-2"])
            await expectCatalogError(.notFound, "no recorded checkpoint named 'nope'") {
                try await catalog.updateCheckpointState(vm: vm, name: "nope", to: .invalid)
            }
            await expectCatalogError(.notFound) { try await catalog.deleteCheckpoint(vm: vm, name: "bulwark-1") }
        }
    }

    @Test func lists10000PointsOfOneVMInsertedInOneTransaction() async throws {
        try await withProtectedVM { catalog, vm in
            var generator = SystemRandomNumberGenerator()
            let points = (0..<10_000).map { index in
                let created = t0.addingTimeInterval(Double(index) * 900)
                return NewRecoveryPoint(
                    id: .generate(at: created, using: &generator), vmUUID: vm, group: name("gold"),
                    datastore: name("main"), createdAt: created, syncKind: index == 0 ? .full : .incremental,
                    consistency: .crashConsistent, logicalBytes: 1 << 30, storedBytes: Int64(index),
                    transferredBytes: Int64(index), retainUntil: created.addingTimeInterval(86_400))
            }
            try await catalog.insertRecoveryPoints(points.shuffled())
            let listed = try await catalog.recoveryPoints(vm: vm)
            #expect(listed.count == 10_000)
            #expect(listed.map(\.id) == points.reversed().map(\.id))
            #expect(listed.last?.syncKind == .full)
            #expect(try await catalog.recoveryPoints(vm: vm, limit: 20).map(\.storedBytes) == (9980..<10_000).reversed().map(Int64.init))
            #expect(try await catalog.datastore(named: name("main")).recoveryPointCount == 10_000)

            // A batch with one bad point inserts nothing.
            var batch = (0..<10).map { point(vm, at: 10_000_000 + Double($0)) }
            batch[7].datastore = name("missing")
            await expectCatalogError(.notFound) { try await catalog.insertRecoveryPoints(batch) }
            #expect(try await catalog.recoveryPoints(vm: vm).count == 10_000)
        }
    }
}
