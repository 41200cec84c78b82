import BulwarkAPI
import BulwarkClient
import BulwarkCore
import BulwarkStore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// What happens to backups when the datastore goes wrong under them.
    @Suite struct DatastoreFaultTests {
        /// A corrupted chunk is found by verify, its points are marked damaged and the next sync stores the data
        /// again; a datastore that fills up mid-sync fails the job with a clear error and leaves every earlier point
        /// intact and restorable.
        @Test func corruptedChunkAndFullDatastore() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M", datastoreLimit: "24m")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in try await run(testbed, guest) }
        }

        /// bulwarkd killed with SIGKILL while chunks stream in: on restart the job is failed with its reason, no
        /// point and no half-written chunk is visible, verify passes, and the next sync completes.
        @Test func serverKilledMidTransfer() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                try await writeRandom(guest, at: "8M", mebibytes: 48)
                let job: JobView = try await testbed.client.post("/v1/backup", BackupRequest(vm: "\(testbed.host)/\(name)"))
                let chunks = testbed.datastorePath + "/.chunks"
                func chunkFiles() -> [String] {
                    (FileManager.default.enumerator(atPath: chunks)?.allObjects as? [String] ?? []).filter { $0.count > 60 }
                }
                // Uploads wait in the job's staging folder until it ends; the restart checks and promotes them.
                let staging = testbed.datastorePath + "/.staging"
                try await waitUntil("the first chunks to arrive", seconds: 300) {
                    (FileManager.default.enumerator(atPath: staging)?.allObjects as? [String] ?? [])
                        .filter { $0.count > 60 && !$0.contains(".tmp") }.count > 40
                }
                try testbed.killAndRestartServer()

                let failed = try await testbed.wait(job.id, seconds: 120)
                #expect(failed.state == .failed)
                #expect(failed.error?.contains("bulwarkd stopped") == true, "\(failed.error ?? "")")
                #expect(try await testbed.points(name).isEmpty)
                // Temporary files may remain from writes cut short, but every file under a chunk's name is whole.
                let store = try Datastore.open(at: testbed.datastorePath)
                let named = chunkFiles().compactMap { ChunkDigest(String($0.split(separator: "/").last ?? "")) }
                #expect(named.count > 40, "the chunks uploaded before the kill were not kept")
                #expect((try? FileManager.default.contentsOfDirectory(atPath: staging))?.isEmpty ?? true)
                for digest in named {
                    #expect(throws: Never.self, "chunk \(digest) is damaged") { _ = try store.readChunk(digest) }
                }
                let verify: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
                #expect(verify.first?.ok == true, "\(verify)")

                let next = try await testbed.backup(name)
                #expect(next.state == .succeeded, "\(next.error ?? "")")
                #expect(try await testbed.points(name).count == 1)
                let clean: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
                #expect(clean.first?.ok == true, "\(clean)")
            }
        }

        private func run(_ testbed: Testbed, _ guest: TestGuest) async throws {
            let name = guest.name
            let uuid = try await testbed.protect(name)
            let hypervisor = guest.hypervisor
            try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0xab, offset: "1M", length: "256k") }
            let first = try await testbed.backup(name)
            #expect(first.state == .succeeded, "\(first.error ?? "")")
            let point1 = try #require(first.recoveryPoint)

            // Damage one stored chunk of vda (the one holding the 0xab write): flip bytes of its payload.
            let chunks = testbed.datastorePath + "/.chunks"
            let files = (FileManager.default.enumerator(atPath: chunks)?.allObjects as? [String] ?? [])
                .filter { $0.count > 60 }
            let victim = try #require(files.first)
            let path = "\(chunks)/\(victim)"
            var bytes = try #require(FileManager.default.contents(atPath: path))
            for index in stride(from: 20, to: min(bytes.count, 60), by: 1) { bytes[index] ^= 0xff }
            try bytes.write(to: URL(fileURLWithPath: path))

            let verify: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
            #expect(verify.first?.ok == false)
            #expect(verify.first?.damagedPoints.contains { $0.hasSuffix(point1) } == true, "\(verify)")
            let damaged = try await testbed.points(name)
            #expect(damaged.first { $0.id == point1 }?.state == .damaged)

            // The next sync has no sound base: it reads everything and stores the lost chunk again.
            let repair = try await testbed.backup(name)
            #expect(repair.state == .succeeded, "\(repair.error ?? "")")
            #expect((repair.bytes?.bytesSent ?? 0) > 0)
            let point2 = try #require(repair.recoveryPoint)
            let clean: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
            #expect(clean.first?.ok == true, "\(clean)")
            let digests = try ["vda", "vdb"].map { try testbed.restoredDigest(vm: uuid, point: point2, disk: $0) }

            // 48 MiB of random data cannot fit in the 24 MiB datastore: the sync fails and says why.
            try await writeRandom(guest, at: "8M", mebibytes: 48)
            let full = try await testbed.backup(name)
            #expect(full.state == .failed)
            #expect(full.error?.contains("full") == true, "\(full.error ?? "")")
            let after = try await testbed.points(name)
            #expect(after.count == 2)
            #expect(after.allSatisfy { $0.id == point1 || $0.id == point2 })
            let still = try ["vda", "vdb"].map { try testbed.restoredDigest(vm: uuid, point: point2, disk: $0) }
            #expect(still == digests, "point \(point2) no longer restores as it did")
        }
    }
}
