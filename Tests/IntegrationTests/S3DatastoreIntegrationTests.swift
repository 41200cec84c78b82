import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// Backups of a real guest into a datastore on the real Ceph RADOS Gateway, over HTTPS with the testbed's CA.
    @Suite struct S3DatastoreIntegrationTests {
        /// A full and an incremental backup land in the bucket, the cache stays within its size, and the incremental
        /// point comes back as a new VM bit-exact, its chunks read from the bucket; browsing and a file's recovery
        /// read it too; verify and GC work on the bucket.
        /// Then the gateway stops while a backup commits: no point appears while it is down, and the job completes
        /// once it is back, reusing what was uploaded.
        @Test func backupsRestoresAndAGatewayOutage() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M", s3CacheSize: "16M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                let shown: DatastoreView = try await testbed.client.get("/v1/datastores/main")
                #expect(shown.backend == "s3")
                #expect(shown.s3?.reachable == true, "\(shown.problem ?? "")")

                try await writeRandom(guest, at: "4M", mebibytes: 24)
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")
                let fullChunks = try await testbed.bucketKeys().filter { $0.hasPrefix(".chunks/") }.count
                #expect(fullChunks >= 24)
                try await writeRandom(guest, at: "40M", mebibytes: 4)
                let incremental = try await testbed.backup(name)
                #expect(incremental.state == .succeeded, "\(incremental.error ?? "")")
                let point = try #require(incremental.recoveryPoint)
                let keys = try await testbed.bucketKeys()
                // Keys as listed under the datastore's prefix.
                #expect(keys.contains("\(uuid.uuidString.lowercased())/\(point)/manifest.json"))
                let newChunks = keys.filter { $0.hasPrefix(".chunks/") }.count - fullChunks
                #expect((4...6).contains(newChunks), "an incremental of 4 MiB uploaded \(newChunks) chunks")
                // The cache was trimmed to its 16 MiB of chunk data after each commit.
                let cached = (FileManager.default.enumerator(atPath: testbed.datastorePath + "/.chunks")?.allObjects as? [String] ?? [])
                    .compactMap { try? FileManager.default.attributesOfItem(atPath: testbed.datastorePath + "/.chunks/" + $0) }
                    .filter { $0[.type] as? FileAttributeType == .typeRegular }
                    .reduce(0) { $0 + (($1[.size] as? Int) ?? 0) }
                #expect(cached <= 16 << 20, "the cache holds \(cached) bytes of chunk data")

                // As a new VM: every disk equals the point as read back from the bucket.
                let folder = guest.directory.file("restored")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let copy = "\(name)-s3"
                let request = RecoveryRequest(
                    vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder, name: copy)
                let started: JobView = try await testbed.client.post("/v1/recover", request)
                let recovered = try await testbed.wait(started.id)
                #expect(recovered.state == .succeeded, "\(recovered.error ?? "")")
                for disk in ["vda", "vdb"] {
                    let expected = try await testbed.restoredDigestFromBucket(vm: uuid, point: point, disk: disk)
                    let digest = try imageDigest("\(folder)/\(copy)-\(disk).qcow2", scratch: guest.directory)
                    #expect(digest == expected, "disk \(disk) of the new VM does not match the point")
                }
                try? await guest.hypervisor.run { try $0.domain(named: copy).undefine() }

                // Browsing and item-level recovery read the point through the server's export of it, from the bucket.
                let vm = "\(testbed.host)/\(name)"
                let top: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/vdb1")
                #expect(Set(top.entries.map(\.name)).isSuperset(of: ["hello.txt", "dir"]), "\(top.entries.map(\.name))")
                let items = guest.directory.file("items")
                try FileManager.default.createDirectory(atPath: items, withIntermediateDirectories: true)
                let copied: JobView = try await testbed.client.post(
                    "/v1/recover", RecoveryRequest(vm: vm, point: point, items: ["/vdb1/hello.txt"], toFolder: items))
                let copiedDone = try await testbed.wait(copied.id)
                #expect(copiedDone.state == .succeeded, "\(copiedDone.error ?? "")")
                let sums = try String(contentsOfFile: try RecoveryTests.dataSums(), encoding: .utf8)
                let hello = try #require(sums.split(separator: "\n").first { $0.hasSuffix(" hello.txt") })
                #expect(try ChildProcess.run("sha256sum", ["\(items)/hello.txt"]).hasPrefix(String(hello.prefix(64))))

                let verified: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
                #expect(verified.first?.ok == true, "\(verified)")
                let collected: [MaintenanceReport] = try await testbed.client.post("/v1/gc", [String: String]())
                #expect(collected.first?.ok == true, "\(collected)")

                // The gateway goes away; a backup runs up to its commit, which fails as transient and is retried.
                try await writeRandom(guest, at: "48M", mebibytes: 4)
                try await S3Testbed.shared.stopGateway()
                let outage: JobView
                do {
                    outage = try await testbed.client.post("/v1/backup", BackupRequest(vm: "\(testbed.host)/\(name)"))
                    try await waitUntil("the commit to fail on the stopped gateway", seconds: 600) {
                        let log = (try? String(contentsOfFile: testbed.agentLog, encoding: .utf8)) ?? ""
                        return log.contains("commit failed, retrying")
                    }
                    // The agent was told why: the server's 503 names the bucket it could not reach.
                    let log = (try? String(contentsOfFile: testbed.agentLog, encoding: .utf8)) ?? ""
                    let retry = log.components(separatedBy: "\n").first { $0.contains("commit failed, retrying") } ?? ""
                    #expect(retry.contains("bucket"), "\(retry)")
                    #expect(try await testbed.points(name).count == 2)
                } catch {
                    try? await S3Testbed.shared.startGateway()
                    throw error
                }
                try await S3Testbed.shared.startGateway()
                let done = try await testbed.wait(outage.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")")
                #expect(try await testbed.points(name).count == 3)
                let clean: [MaintenanceReport] = try await testbed.client.post("/v1/verify", [String: String]())
                #expect(clean.first?.ok == true, "\(clean)")

                // The server's data directory and the datastore's cache both lost: a new server attaches the bucket
                // (read-only: the dead server's heartbeat is recent), makes a cache from it, and restores bit-exact.
                let newest = try #require(done.recoveryPoint)
                let expected = try await testbed.restoredDigestFromBucket(vm: uuid, point: newest, disk: "vda")
                try await testbed.replaceServer()
                try FileManager.default.removeItem(atPath: testbed.datastorePath)
                let attached: DatastoreAttachResult = try await testbed.client.post(
                    "/v1/datastores/attach",
                    DatastoreCreateRequest(
                        name: "rescued", path: testbed.datastorePath, s3: try testbed.s3Request(), readOnly: true))
                #expect(attached.points == 3 && attached.vms == 1, "\(attached)")
                try await waitUntil("the points listed under the VM's host again", seconds: 120) {
                    (try? await testbed.points(name).count) == 3
                }
                let rescuedFolder = guest.directory.file("rescued")
                try FileManager.default.createDirectory(atPath: rescuedFolder, withIntermediateDirectories: true)
                let rescue: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(
                        vm: "\(testbed.host)/\(name)", point: newest, toHost: testbed.host, path: rescuedFolder,
                        name: "\(name)-rescued"))
                let rescued = try await testbed.wait(rescue.id)
                #expect(rescued.state == .succeeded, "\(rescued.error ?? "")")
                let digest = try imageDigest("\(rescuedFolder)/\(name)-rescued-vda.qcow2", scratch: guest.directory)
                #expect(digest == expected, "vda restored through a cache made from the bucket does not match the point")
                try? await guest.hypervisor.run { try $0.domain(named: "\(name)-rescued").undefine() }
            }
        }
    }
}
