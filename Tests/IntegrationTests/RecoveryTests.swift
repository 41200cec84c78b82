import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import Libvirt
import TestSupport
import Testing

extension IntegrationSuite {
    /// Recovery against the real daemons: a point written as a new VM on the host and as the VM itself, both
    /// bit-exact by SHA-256; refusals before any data moves; a restore whose agent died leaves no files behind.
    @Suite struct RecoveryTests {
        /// SHA-256 of each disk of `point` as the datastore holds it, and of the guest's disks now.
        private func pointDigests(_ testbed: Testbed, vm: UUID, point: String) throws -> [String: String] {
            Dictionary(uniqueKeysWithValues: try ["vda", "vdb"].map { ($0, try testbed.restoredDigest(vm: vm, point: point, disk: $0)) })
        }

        private func recover(_ testbed: Testbed, _ request: RecoveryRequest) async throws -> JobView {
            let job: JobView = try await testbed.client.post("/v1/recover", request)
            #expect(job.kind == "recovery")
            return try await testbed.wait(job.id)
        }

        @Test func aPointBecomesANewVMAndGoesBackInPlaceBitExact() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                try await writeRandom(guest, at: "4M", mebibytes: 12)
                let full = try await testbed.backup(name)
                #expect(full.state == .succeeded, "\(full.error ?? "")")
                let point = try #require(full.recoveryPoint)
                let expected = try pointDigests(testbed, vm: uuid, point: point)

                // 1. As a new VM on the same host, started: its disks are the point's, byte for byte.
                let folder = guest.directory.file("restored")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let copy = "\(name)-copy"
                let job = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder, name: copy, start: true))
                #expect(job.state == .succeeded, "\(job.error ?? "")\n\(testbed.diagnostics())")
                let defined = try await guest.hypervisor.run { connection -> (Bool, String, String) in
                    let domain = try connection.domain(named: copy)
                    return (try domain.state().isActive, try domain.uuid(), try domain.xml())
                }
                #expect(defined.0, "the new VM was started")
                #expect(defined.1 != uuid.uuidString.lowercased(), "the new VM has a UUID of its own")
                #expect(defined.2.contains("\(folder)/\(copy)-vda.qcow2") && !defined.2.contains(guest.vdaPath))
                let originalMAC = try await guest.hypervisor.run { try $0.domain(named: name).xml() }
                    .components(separatedBy: "mac address='").dropFirst().first?.prefix(17)
                if let originalMAC { #expect(!defined.2.contains(String(originalMAC)), "the new VM has new MAC addresses") }
                try await guest.hypervisor.run { connection in
                    let domain = try connection.domain(named: copy)
                    try domain.destroy()
                    try domain.undefine()
                }
                for disk in ["vda", "vdb"] {
                    let digest = try imageDigest("\(folder)/\(copy)-\(disk).qcow2", scratch: guest.directory)
                    #expect(digest == expected[disk], "disk \(disk) of the new VM does not match the point")
                }

                // 2. Refused before any data moves: the name taken, a folder that is not there, a path too long.
                let taken = await #expect(throws: ClientError.self) {
                    let _: JobView = try await testbed.client.post(
                        "/v1/recover",
                        RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder, name: name))
                }
                #expect(taken?.message.contains("already has a VM named \(name)") == true, "\(String(describing: taken))")
                let nowhere = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder + "/missing", name: "x\(name)"))
                #expect(nowhere.state == .failed && nowhere.error?.contains("is not a folder") == true, "\(nowhere.error ?? "")")
                let long = await #expect(throws: ClientError.self) {
                    let _: JobView = try await testbed.client.post(
                        "/v1/recover",
                        RecoveryRequest(
                            vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host,
                            path: folder + String(repeating: "/deeper", count: 600), name: "x\(name)"))
                }
                #expect(long?.message.contains("longer than Linux allows") == true, "\(String(describing: long))")
                // A target folder too small for the disks: refused by the agent before any data moves.
                let small = guest.directory.file("small")
                try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
                try ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", small])
                defer { _ = try? ChildProcess.run("umount", [small]) }
                let cramped = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: small, name: "x\(name)"))
                #expect(cramped.state == .failed && cramped.error?.contains("free") == true, "\(cramped.error ?? "")")
                #expect(try FileManager.default.contentsOfDirectory(atPath: small).isEmpty)
                // Refused restores left nothing beside the copy's disks (its console is a pty, not a file).
                let left = try FileManager.default.contentsOfDirectory(atPath: folder).filter { !$0.hasSuffix("console.log") }.sorted()
                #expect(left == ["\(copy)-vda.qcow2", "\(copy)-vdb.qcow2"], "refused restores left files: \(left)")

                // 3. Back in place: the guest wrote after the point; the running VM is stopped, only the chunks
                // that differ are written, its definition restored, and it runs again.
                try await guest.hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x5c, offset: "20M", length: "2M") }
                // vda grew since the point: it goes back to the point's size.
                try ChildProcess.run("virsh", ["-c", systemURI, "blockresize", name, "vda", "80M"])
                // And vdb's file is lost (QEMU keeps it open until it stops): made anew and written in full.
                try FileManager.default.removeItem(atPath: guest.vdbPath)
                let back = try await recover(
                    testbed, RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, to: "original", shutdownTimeout: 1))
                #expect(back.state == .succeeded, "\(back.error ?? "")\n\(testbed.diagnostics())")
                let log = try await testbed.job(back.id).log?.map(\.message).joined(separator: "\n") ?? ""
                #expect(log.contains("disk vda: 2 of") && log.contains("vdb.qcow2 is missing; making it anew"), "\(log)")
                #expect(log.contains("disk vda:") && log.contains("resizing it to the point's"), "\(log)")
                #expect(try await guest.hypervisor.run { try $0.domain(named: name).state().isActive }, "restarted")
                // Protection restarts with a consistency check, queued by the restore.
                let jobs: [JobView] = try await testbed.client.get("/v1/jobs?vm=\(testbed.host)/\(name)")
                let check = try #require(jobs.first { $0.kind == "consistency-check" })
                let checked = try await testbed.wait(check.id)
                #expect(checked.state == .succeeded, "\(checked.error ?? "")")
                try await guest.hypervisor.run { try $0.domain(named: name).destroy() }
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(try imageDigest(path, scratch: guest.directory) == expected[disk], "disk \(disk) is not the point's after the restore")
                }
            }
        }

        /// The agent killed mid-restore (its host gone): the job fails once it is back, and the files the restore
        /// made are removed when the agent starts.
        @Test func aRestoreWhoseAgentDiedLeavesNoFiles() async throws {
            let testbed = try await Testbed.start(chunkSize: "64K")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                _ = try await testbed.protect(name)
                try await writeRandom(guest, at: "4M", mebibytes: 8)
                let full = try await testbed.backup(name)
                let point = try #require(full.recoveryPoint)
                let folder = guest.directory.file("partial")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                // Slow enough to be caught half-way: 8 MiB at 256 KiB a second.
                let job: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(vm: "\(testbed.host)/\(name)", point: point, toHost: testbed.host, path: folder, name: "\(name)-partial", throttle: "256K"))
                try await waitUntil("the restore to write", seconds: 120) {
                    let view = try await testbed.job(job.id)
                    return (view.bytes?.bytesSent ?? 0) > 512 << 10
                }
                #expect(!(try FileManager.default.contentsOfDirectory(atPath: folder)).isEmpty)
                testbed.killAgent()
                try testbed.startAgent()
                let failed = try await testbed.wait(job.id, seconds: 120)
                #expect(failed.state == .failed && failed.error?.contains("restarted") == true, "\(failed.error ?? "")")
                try await waitUntil("the partial files to go", seconds: 60) {
                    (try FileManager.default.contentsOfDirectory(atPath: folder)).isEmpty
                }
                #expect(try await guest.hypervisor.run { connection in (try? connection.domain(named: "\(name)-partial")) == nil })
            }
        }

        /// Item-level: the guest's data disk (GPT, ext4, files known by SHA-256) browsed and copied out of a point
        /// without starting anything, and the whole disk copied out as an image.
        @Test func filesAndDisksComeOutOfAPointUnchanged() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let vm = "\(testbed.host)/\(name)"
                let uuid = try await testbed.protect(name)
                let full = try await testbed.backup(name)
                let point = try #require(full.recoveryPoint)

                let root: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/")
                let data = try #require(root.entries.first { $0.name == "vdb1" })
                #expect(data.kind == "filesystem" && data.fileSystem == "ext4" && data.label == "bulwark-data", "\(root.entries)")
                let top: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/vdb1")
                let names = Set(top.entries.map(\.name))
                #expect(names.isSuperset(of: ["hello.txt", "dir", "link-to-hello", "mode-0640.txt"]), "\(names)")
                #expect(top.entries.first { $0.name == "link-to-hello" }?.target == "hello.txt")
                let missing = await #expect(throws: ClientError.self) {
                    let _: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/vdb1/nothing")
                }
                #expect(missing?.code == .notFound)

                let folder = guest.directory.file("items")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let job: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(vm: vm, point: point, items: ["/vdb1/hello.txt", "/vdb1/dir", "/vdb1/mode-0640.txt", "/vdb1/link-to-hello"], disks: ["vdb"], toFolder: folder))
                let done = try await testbed.wait(job.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")\n\(testbed.diagnostics())")
                let sums = try String(contentsOfFile: try Self.dataSums(), encoding: .utf8)
                for line in sums.split(separator: "\n") {
                    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                    guard parts.count == 2 else { continue }
                    let file = "\(folder)/\(parts[1])"
                    #expect(try ChildProcess.run("sha256sum", [file]).hasPrefix(String(parts[0])), "\(parts[1]) differs from the guest's")
                }
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/link-to-hello") == "hello.txt")
                let attributes = try FileManager.default.attributesOfItem(atPath: "\(folder)/mode-0640.txt")
                #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
                #expect((attributes[.modificationDate] as? Date).map { Int($0.timeIntervalSince1970) } == 1_704_164_645)

                // Onto the agent's host (--host): its agent reads the point from the server and copies the items.
                let onHost = guest.directory.file("items-on-host")
                try FileManager.default.createDirectory(atPath: onHost, withIntermediateDirectories: true)
                let hostJob: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(vm: vm, point: point, toHost: testbed.host, items: ["/vdb1/hello.txt", "/vdb1/dir"], toFolder: onHost))
                let hostDone = try await testbed.wait(hostJob.id)
                #expect(hostDone.state == .succeeded, "\(hostDone.error ?? "")\n\(testbed.diagnostics())")
                #expect(FileManager.default.contents(atPath: "\(onHost)/hello.txt") == FileManager.default.contents(atPath: "\(folder)/hello.txt"))
                #expect(FileManager.default.contents(atPath: "\(onHost)/dir/nested/data.bin") == FileManager.default.contents(atPath: "\(folder)/dir/nested/data.bin"))

                // Into a folder whose disk fills up: the job fails saying so.
                let tiny = guest.directory.file("tiny")
                try FileManager.default.createDirectory(atPath: tiny, withIntermediateDirectories: true)
                try ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", tiny])
                defer { _ = try? ChildProcess.run("umount", [tiny]) }
                let filling: JobView = try await testbed.client.post(
                    "/v1/recover", RecoveryRequest(vm: vm, point: point, items: ["/vdb1/dir"], toFolder: tiny))
                let filled = try await testbed.wait(filling.id)
                #expect(filled.state == .failed && filled.error?.contains("full") == true, "\(filled.error ?? "")")

                // The whole data disk, as a qcow2 image holding exactly the point's disk.
                let image = "\(folder)/\(name)-vdb.qcow2"
                #expect(try imageDigest(image, scratch: guest.directory) == (try testbed.restoredDigest(vm: uuid, point: point, disk: "vdb")))
            }
        }

        /// The testbed kit's LVM/XFS/NTFS disk (made by setup-host in a libguestfs appliance) and its files' SHA-256.
        static let lvmKit = ProcessInfo.processInfo.environment["BULWARK_TESTBED_DIR"] ?? "/var/cache/bulwark-testbed"

        /// Item-level through libguestfs: a guest whose vdb holds LVM (an XFS logical volume) and NTFS is backed up,
        /// browsed and its files copied out, on the server and on the agent's host, equal to what the kit put there.
        @Test(.enabled(if: FileManager.default.fileExists(atPath: "\(lvmKit)/data-lvm-xfs-ntfs.qcow2"), "needs the kit's LVM disk (scripts/setup)"))
        func logicalVolumesXFSAndNTFSComeOutOfAPoint() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed, dataDisk: "\(Self.lvmKit)/data-lvm-xfs-ntfs.qcow2") { guest in
                let name = guest.name
                let vm = "\(testbed.host)/\(name)"
                _ = try await testbed.protect(name)
                let full = try await testbed.backup(name)
                let point = try #require(full.recoveryPoint, "\(full.error ?? "")")

                let root: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/")
                let kinds = Dictionary(root.entries.map { ($0.name, $0.fileSystem ?? "") }, uniquingKeysWith: { first, _ in first })
                #expect(kinds["bwvg-data"] == "xfs" && kinds["vdb2"] == "ntfs" && kinds["vdb1"] == "lvm2", "\(root.entries)")
                let docs: BrowseView = try await testbed.client.get("/v1/browse?vm=\(vm)&point=\(point)&path=/bwvg-data/docs")
                #expect(docs.entries.map(\.name) == ["big.bin", "link", "report.txt", "sub"], "\(docs.entries)")

                let folder = guest.directory.file("lvm-items")
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let job: JobView = try await testbed.client.post(
                    "/v1/recover",
                    RecoveryRequest(vm: vm, point: point, items: ["/bwvg-data/docs", "/vdb2/readme.txt", "/vdb2/Folder"], toFolder: folder))
                let done = try await testbed.wait(job.id)
                #expect(done.state == .succeeded, "\(done.error ?? "")\n\(testbed.diagnostics())")
                let sums = try String(contentsOfFile: "\(Self.lvmKit)/data-lvm-files.sha256", encoding: .utf8)
                var checked = 0
                for line in sums.split(separator: "\n") {
                    let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                    guard parts.count == 2 else { continue }
                    // The kit's folders: xfs/docs/... is /bwvg-data/docs/..., ntfs/... is /vdb2/...
                    let file = "\(folder)/\(parts[1].split(separator: "/").dropFirst().joined(separator: "/"))"
                    #expect(try ChildProcess.run("sha256sum", [file]).hasPrefix(String(parts[0])), "\(file) differs from the guest's")
                    checked += 1
                }
                #expect(checked == 5)
                #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/docs/link") == "report.txt")
                let attributes = try FileManager.default.attributesOfItem(atPath: "\(folder)/docs/report.txt")
                #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
                #expect((attributes[.modificationDate] as? Date).map { Int($0.timeIntervalSince1970) } == 1_704_164_645)

                // On the agent's host, which starts its own appliance over the chunks the server sends.
                let onHost = guest.directory.file("lvm-items-on-host")
                try FileManager.default.createDirectory(atPath: onHost, withIntermediateDirectories: true)
                let hostJob: JobView = try await testbed.client.post(
                    "/v1/recover", RecoveryRequest(vm: vm, point: point, toHost: testbed.host, items: ["/bwvg-data/docs/big.bin"], toFolder: onHost))
                let hostDone = try await testbed.wait(hostJob.id)
                #expect(hostDone.state == .succeeded, "\(hostDone.error ?? "")\n\(testbed.diagnostics())")
                #expect(FileManager.default.contents(atPath: "\(onHost)/big.bin") == FileManager.default.contents(atPath: "\(folder)/docs/big.bin"))
            }
        }

        /// The testbed kit's list of the data disk's files and their SHA-256.
        static func dataSums() throws -> String {
            let kit = ProcessInfo.processInfo.environment["BULWARK_TESTBED_DIR"] ?? "/var/cache/bulwark-testbed"
            return "\(kit)/data-files.sha256"
        }
    }
}
