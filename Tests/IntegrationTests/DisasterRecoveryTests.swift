import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// A server that lost its data directory, rebuilt from its datastore.
    @Suite struct DisasterRecoveryTests {
        /// Two points taken, the server's data directory deleted; a new server with the agent enrolled anew is
        /// refused the datastore while the old server's heartbeat is recent, attaches it read-only, lists the points
        /// again (a damaged manifest left out and named), refuses to write there, and restores the newest as a new
        /// VM bit-exact.
        @Test func aNewServerAttachesTheDatastoreAndRestoresBitExact() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                try await writeRandom(guest, at: "4M", mebibytes: 8)
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")
                try await writeRandom(guest, at: "20M", mebibytes: 2)
                let incremental = try await testbed.backup(name)
                #expect(incremental.state == .succeeded, "\(incremental.error ?? "")")
                let point = try #require(incremental.recoveryPoint)
                let expected = try Dictionary(uniqueKeysWithValues: ["vda", "vdb"].map {
                    ($0, try testbed.restoredDigest(vm: uuid, point: point, disk: $0))
                })
                // The server ran on for a while: its start wrote a copy of its catalog into the datastore.
                try testbed.killAndRestartServer()
                try await waitUntil("a catalog copy in the datastore", seconds: 60) {
                    ((try? FileManager.default.contentsOfDirectory(atPath: "\(testbed.datastorePath)/.catalog")) ?? []).contains {
                        $0.hasSuffix(".sqlite")
                    }
                }
                // A point whose manifest was damaged on disk: named and left out, the others attach.
                let broken = "\(testbed.datastorePath)/\(uuid.uuidString.lowercased())/\(RecoveryPointID.generate())"
                try FileManager.default.createDirectory(atPath: broken, withIntermediateDirectories: true)
                try Data("{ not json".utf8).write(to: URL(fileURLWithPath: "\(broken)/manifest.json"))

                try await testbed.replaceServer()
                let before: [DatastoreView] = try await testbed.client.get("/v1/datastores")
                #expect(before.isEmpty)
                // The dead server's heartbeat is minutes old: it may still be writing, so only --read-only attaches.
                let live = await #expect(throws: ClientError.self) {
                    let _: DatastoreAttachResult = try await testbed.client.post(
                        "/v1/datastores/attach", DatastoreCreateRequest(name: "rescued", path: testbed.datastorePath))
                }
                #expect(live?.message.contains("--read-only") == true, "\(live?.message ?? "")")
                let attached: DatastoreAttachResult = try await testbed.client.post(
                    "/v1/datastores/attach",
                    DatastoreCreateRequest(name: "rescued", path: testbed.datastorePath, readOnly: true))
                #expect(attached.datastore.readOnly)
                // Read-only: the copy gives the points their retention, but no group may keep points there.
                #expect(attached.notes.first?.contains("from catalog copy") == true, "\(attached.notes)")
                #expect(attached.groups.isEmpty)
                #expect(attached.points == 2)
                #expect(attached.vms == 1)
                #expect(attached.damaged.count == 1 && attached.damaged.first?.contains("manifest") == true, "\(attached.damaged)")
                let again = await #expect(throws: ClientError.self) {
                    let _: DatastoreAttachResult = try await testbed.client.post(
                        "/v1/datastores/attach",
                        DatastoreCreateRequest(name: "twice", path: testbed.datastorePath, readOnly: true))
                }
                #expect(again?.message.contains("already") == true, "\(again?.message ?? "")")
                // Restores only: no group keeps points there, and GC leaves it alone.
                let group = await #expect(throws: ClientError.self) {
                    let _: GroupView = try await testbed.client.post(
                        "/v1/groups", GroupCreateRequest(name: "again", datastore: "rescued"))
                }
                #expect(group?.message.contains("read-only") == true, "\(group?.message ?? "")")
                let collected: [MaintenanceReport] = try await testbed.client.post("/v1/gc", [String: String]())
                #expect(collected.first?.summary.contains("left alone") == true, "\(collected)")

                // The re-enrolled agent reports the VM, which takes it; its points are listed under it again.
                try await waitUntil("the points of \(name) listed under its host", seconds: 120) {
                    (try? await testbed.points(name).count) == 2
                }
                let folder = guest.directory.file("rescued")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let copy = "\(name)-rescued"
                let job: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder, name: copy))
                let recovered = try await testbed.wait(job.id)
                #expect(recovered.state == .succeeded, "\(recovered.error ?? "")")
                for disk in ["vda", "vdb"] {
                    let digest = try imageDigest("\(folder)/\(copy)-\(disk).qcow2", scratch: guest.directory)
                    #expect(digest == expected[disk], "disk \(disk) restored after the rebuild does not match the point")
                }
                try? await guest.hypervisor.run { try $0.domain(named: copy).undefine() }
            }
        }
    }
}
