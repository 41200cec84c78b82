import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import Testing

@testable import BulwarkServer

/// Retention prunes what its range lets go, never a protected VM's newest point nor one kept with
/// `--retain-until`, and garbage collection then frees the chunks only pruned points used.
@Suite struct RetentionTests {
    @Test func pruningKeepsTheNewestAndRetainedPointsAndFreesChunks() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let gold = try ResourceName("gold", field: "group")
            let main = try ResourceName("main", field: "datastore")
            let now = Date()
            func days(_ count: Double) -> Date { now.addingTimeInterval(count * 86_400) }
            func point(_ vm: UUID, created: Double, kept: Double, group: ResourceName? = nil) async throws -> RecoveryPointID {
                let info = NewRecoveryPoint(
                    vmUUID: vm, group: group, datastore: main, createdAt: days(created), syncKind: .full,
                    consistency: .crashConsistent, logicalBytes: 0, storedBytes: 0, transferredBytes: 0,
                    retainUntil: days(kept))
                try await catalog.insertRecoveryPoint(info)
                return info.id
            }
            // A point with files: its one chunk is used by no other point.
            let store = try fleet.store
            let plain = [UInt8](repeating: 7, count: 1000)
            let chunk = try store.writeChunk(plain)
            let withFiles = RecoveryPointID.generate()
            let written = try store.writeRecoveryPoint(
                manifest: RecoveryPointManifest(
                    pointID: withFiles, vmUUID: fleet.web1, vmName: "web1", createdAt: days(-10), domainXML: "",
                    consistency: .crashConsistent, syncKind: .full),
                indexes: ["vda": try FixedIndex(chunkSize: store.chunkSize, logicalSize: 1000, digests: [chunk.digest])])
            try await catalog.insertRecoveryPoint(
                NewRecoveryPoint(
                    id: withFiles, vmUUID: fleet.web1, group: gold, datastore: main, createdAt: written.createdAt,
                    syncKind: .full, consistency: .crashConsistent, logicalBytes: 1000, storedBytes: 0,
                    transferredBytes: 0, retainUntil: days(-5)))
            let retained = try await point(fleet.web1, created: -20, kept: 30, group: gold)
            let expired = try await point(fleet.web1, created: -9, kept: -4, group: gold)
            let newest = try await point(fleet.web1, created: -8, kept: -3, group: gold)
            let app1 = try #require(try await catalog.vms(host: "kvm2").first { $0.name == "app1" })
            let unprotected = try await point(app1.uuid, created: -8, kept: -3)

            let maintenance = Maintenance(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                interval: .seconds(3600), logger: Logger(label: "retention-test"))
            // Two days on, the chunk is past garbage collection's grace period.
            let report = try await maintenance.pass(now: days(2))
            #expect(Set(report.pruned) == [withFiles, expired] && report.failed.isEmpty)
            #expect(report.collected == [main])
            let left = Set(try await catalog.recoveryPoints(vm: fleet.web1).map(\.id))
            #expect(left == [retained, newest], "the newest point of a protected VM and a retained one stay")
            #expect(try await catalog.recoveryPoints(vm: app1.uuid).map(\.id) == [unprotected],
                    "every VM keeps its newest restorable point, in a group or not")
            #expect(!FileManager.default.fileExists(atPath: "\(fleet.storePath)/\(fleet.web1.uuidString.lowercased())/\(withFiles)"))
            #expect(!store.hasChunk(chunk.digest), "garbage collection frees what only pruned points used")

            let jobs = try await catalog.jobs().filter { $0.kind == .prune }
            #expect(jobs.count == 1 && jobs.first?.state == .succeeded)
            let log = try await catalog.jobLog(id: try #require(jobs.first?.id)).map(\.message)
            #expect(log.filter { $0.hasPrefix("pruned point") }.count == 2 && log.contains { $0.contains("chunks") }, "\(log)")
            // A second pass finds nothing more to do and makes no job.
            #expect(try await maintenance.pass(now: days(2)).pruned.isEmpty)
            #expect(try await catalog.jobs().filter { $0.kind == .prune }.count == 1)
        }
    }

    /// A damaged newest point does not let retention take the last restorable one before it.
    @Test func aDamagedNewestPointKeepsTheRestorableOneBeforeIt() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let main = try ResourceName("main", field: "datastore")
            let gold = try ResourceName("gold", field: "group")
            let now = Date()
            func point(created: Double, kept: Double) async throws -> RecoveryPointID {
                let info = NewRecoveryPoint(
                    vmUUID: fleet.web1, group: gold, datastore: main, createdAt: now.addingTimeInterval(created * 86_400),
                    syncKind: .full, consistency: .crashConsistent, logicalBytes: 0, storedBytes: 0, transferredBytes: 0,
                    retainUntil: now.addingTimeInterval(kept * 86_400))
                try await catalog.insertRecoveryPoint(info)
                return info.id
            }
            let older = try await point(created: -10, kept: -5)
            let good = try await point(created: -9, kept: -4)
            let damaged = try await point(created: -8, kept: -3)
            try await catalog.updateRecoveryPointState(id: damaged, to: .damaged)
            let due = Set(try await catalog.prunablePoints(now: now).map(\.id))
            #expect(due == [older, damaged], "the newest restorable point stays although a newer one exists")
            #expect(try await catalog.prunePoint(id: good, now: now) == false)
        }
    }

    /// Complete points the catalog does not list (a crash between files and row) are reported, then collected once
    /// their grace period is over; listed points are never touched.
    @Test func pointsWithoutACatalogRowAreReportedThenCollected() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let listed = try await VerificationTests.backUp(fleet)
            let store = try fleet.store
            let now = Date()
            func orphan(madeDaysAgo days: Double) throws -> RecoveryPointRef {
                let id = RecoveryPointID.generate()
                _ = try store.writeRecoveryPoint(
                    manifest: RecoveryPointManifest(
                        pointID: id, vmUUID: fleet.web1, vmName: "web1", createdAt: now.addingTimeInterval(-days * 86_400),
                        domainXML: "", consistency: .crashConsistent, syncKind: .full),
                    indexes: ["vda": fleet.vda.index])
                return RecoveryPointRef(vm: fleet.web1, point: id)
            }
            let old = try orphan(madeDaysAgo: 10)
            let recent = try orphan(madeDaysAgo: 1)
            let reconciliation = Reconciliation(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                logger: Logger(label: "reconcile-test"))
            let main = try ResourceName("main", field: "datastore")
            let first = try #require(await reconciliation.run(now: now)[main])
            #expect(Set(first.orphans) == [old, recent] && first.removed == [old])
            #expect(Set(try store.listRecoveryPoints().map(\.point)) == [listed, recent.point])
            let alert = try #require(try await catalog.alerts().first { $0.kind == .datastoreOrphanPoints })
            #expect(alert.message.contains("1 complete recovery point(s)") && alert.message.contains("7 days"), "\(alert.message)")

            let later = try #require(await reconciliation.run(now: now.addingTimeInterval(8 * 86_400))[main])
            #expect(later.removed == [recent])
            #expect(try store.listRecoveryPoints().map(\.point) == [listed], "the listed point stays")
            #expect(try await catalog.alerts().contains { $0.kind == .datastoreOrphanPoints } == false)
        }
    }
}
