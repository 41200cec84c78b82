import BulwarkAPI
import BulwarkCatalog
import BulwarkCore
import BulwarkStore
import Foundation
import Logging
import NBD
import TestSupport
import BulwarkClient
import Testing

@testable import BulwarkServer

/// The client error `body` ends with; nil when it succeeds.
func refusal(_ body: () async throws -> Void) async -> ClientError? {
    do {
        try await body()
        return nil
    } catch let error as ClientError {
        return error
    } catch {
        Issue.record("expected a ClientError, got \(error)")
        return nil
    }
}

/// Recovery points served over NBD from the datastore, read by nbdcopy and qemu-img: bit-exact, zeros as holes;
/// damaged points refused by name; a served point kept by retention until its export stops.
@Suite struct ExportTests {
    @Test func aPointIsServedBitExactToRealClients() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let id = try await VerificationTests.backUp(fleet)
            let view: ExportView = try await fleet.admin.post("/v1/exports", ExportRequest(vm: "kvm1/web1", point: "latest"))
            #expect(view.point == id.description && view.disks.map(\.target) == ["vda", "vdb"])
            let scratch = try TemporaryDirectory("export-test")
            defer { scratch.cleanUp() }
            for (disk, image) in [(view.disks[0], fleet.vda.image), (view.disks[1], fleet.vdb.image)] {
                #expect(disk.sizeBytes == Int64(image.count))
                let copy = scratch.file("\(disk.target).raw")
                _ = try ChildProcess.run("nbdcopy", [disk.uri, copy])
                #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: copy))) == image, "disk \(disk.target)")
                let compared = try ChildProcess.run("qemu-img", ["compare", "-F", "raw", disk.uri, copy])
                #expect(compared.contains("identical"), "\(compared)")
            }
            // The zero block of vda is a hole, not data.
            let map = try ChildProcess.run("nbdinfo", ["--map", view.disks[0].uri])
            #expect(map.contains("hole"), "\(map)")

            let listed: [ExportView] = try await fleet.admin.get("/v1/exports")
            #expect(listed.map(\.id) == [view.id])
            let stopped: ExportView = try await fleet.admin.delete("/v1/exports/\(view.id)")
            #expect(stopped.id == view.id && !FileManager.default.fileExists(atPath: view.socket))
            let gone = await refusal { let _: ExportView = try await fleet.admin.get("/v1/exports/\(view.id)") }
            #expect(gone?.code == .notFound)
        }
    }

    @Test func badRequestsAndDamagedPointsAreRefusedByName() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            func export(_ point: String, vm: String = "kvm1/web1") async -> ClientError? {
                await refusal { let _: ExportView = try await fleet.admin.post("/v1/exports", ExportRequest(vm: vm, point: point)) }
            }
            let none = await export("latest")
            #expect(none?.code == .notFound && none?.message.contains("no restorable recovery point") == true, "\(String(describing: none))")
            let id = try await VerificationTests.backUp(fleet)
            let bad = await export("yesterday")
            #expect(bad?.code == .rejected && bad?.message.contains("not a recovery point id") == true, "\(String(describing: bad))")
            let wrongVM = await export(id.description, vm: "kvm2/app1")
            #expect(wrongVM?.code == .notFound && wrongVM?.message.contains("not a point of VM") == true, "\(String(describing: wrongVM))")

            // The datastore's folder gone: refused, naming it.
            try FileManager.default.moveItem(atPath: fleet.storePath, toPath: fleet.storePath + ".away")
            let away = await export(id.description)
            #expect(away?.code == .rejected && away?.message.contains("cannot be opened") == true, "\(String(describing: away))")
            try FileManager.default.moveItem(atPath: fleet.storePath + ".away", toPath: fleet.storePath)

            // A chunk lost from the datastore and the point marked damaged (as verify does): refused, naming it.
            let chunk = try #require(try VerificationTests.chunkFiles(fleet.storePath).first)
            try FileManager.default.removeItem(atPath: chunk)
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            try await catalog.updateRecoveryPointState(id: id, to: .damaged)
            let damaged = await export(id.description)
            let digest = URL(fileURLWithPath: chunk).lastPathComponent
            #expect(damaged?.code == .rejected && damaged?.message.contains(digest) == true, "\(String(describing: damaged))")
        }
    }

    /// Retention keeps a point while it is served or held (a browse or an item-level copy reads it) and prunes it
    /// once it is not; a lease cannot be taken on a pruned point.
    @Test func retentionKeepsAServedPoint() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let old = try await VerificationTests.backUp(fleet)
            _ = try await VerificationTests.backUp(fleet)
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let scratch = try TemporaryDirectory("export-retention")
            defer { scratch.cleanUp() }
            let exports = PointExports(
                folder: scratch.file("exports"), catalog: catalog,
                datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")), logger: Logger(label: "exports-test"))
            let session = try await exports.open(try await catalog.recoveryPoint(id: old), datastorePath: fleet.storePath)
            let maintenance = Maintenance(
                catalog: catalog, datastores: Datastores(catalog: catalog, logger: Logger(label: "datastores-test")),
                interval: .seconds(3600), logger: Logger(label: "retention-test"))
            let later = Date().addingTimeInterval(30 * 86_400)
            #expect(try await maintenance.pass(now: later).pruned.isEmpty)
            // The served point still reads while retention waits.
            let connection = try NBDConnection(.unix(path: session.server.socketPath, export: "vda"))
            #expect(try connection.read(offset: 0, length: 4096) == Array(fleet.vda.image[0..<4096]))
            _ = try await exports.close(session.id)
            // A browse or an item-level copy holds the point the same way, until it ends.
            let first = try await exports.hold(old, holder: "test 1")
            let second = try await exports.hold(old, holder: "test 2")
            // Closing the export released its lease (in a task of its own): wait for that, not for a clock.
            try await waitUntil("the export's lease to go", seconds: 30) {
                try await catalog.prunablePoints(now: later).isEmpty
            }
            #expect(try await maintenance.pass(now: later).pruned.isEmpty)
            await exports.release(first)
            #expect(try await maintenance.pass(now: later).pruned.isEmpty, "one reader is still there")
            await exports.release(second)
            #expect(try await maintenance.pass(now: later).pruned == [old])
            let refused = await #expect(throws: CatalogError.self) { _ = try await exports.hold(old, holder: "too late") }
            #expect(refused?.code == .notFound)
        }
    }

    /// `--delete-data` and retention against readers: a lease taken first wins, whole, and nothing is half-deleted.
    @Test func deletingDataHonoursALeaseAndARunningRestore() async throws {
        try await AgentProtocolTests.withFleet { fleet in
            let old = try await VerificationTests.backUp(fleet)
            let newest = try await VerificationTests.backUp(fleet)
            let catalog = try await Catalog.open(path: fleet.directory.catalogPath)
            let lease = try await catalog.leasePoint(old, holder: "browse")
            let refused = await #expect(throws: ClientError.self) {
                let _: GroupView = try await fleet.admin.post(
                    "/v1/groups/gold/members/remove", GroupMembersRequest(vms: ["kvm1/web1"], deleteData: true))
            }
            #expect(refused?.message.contains("in use (browse)") == true, "\(String(describing: refused))")
            #expect(Set(try await catalog.recoveryPoints(vm: fleet.web1).map(\.id)) == [old, newest], "nothing was deleted")
            try await catalog.releasePointLease(lease)

            // A restore queued on the old point holds it the same way, through its job row.
            let restore: JobView = try await fleet.admin.post(
                "/v1/recover", RecoveryRequest(vm: "kvm1/web1", point: old.description, toHost: "kvm2", path: "/srv/vms"))
            await #expect(throws: CatalogError.self) { try await catalog.deleteRecoveryPoint(id: old) }
            let _: JobView = try await fleet.admin.post("/v1/jobs/\(restore.id)/cancel", [String: String]())
            let removed: GroupView = try await fleet.admin.post(
                "/v1/groups/gold/members/remove", GroupMembersRequest(vms: ["kvm1/web1"], deleteData: true))
            #expect(removed.deletedPoints == 2)
            #expect(!FileManager.default.fileExists(atPath: "\(fleet.storePath)/\(fleet.web1.uuidString.lowercased())/\(old)"))
        }
    }
}
