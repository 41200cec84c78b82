import BulwarkAPI
import BulwarkClient
import BulwarkCore
import Foundation
import TestSupport
import Testing

extension IntegrationSuite {
    /// Manual replica creation: the initial replica read by bulwarkd from disk images exported from the VM.
    @Suite struct SeedTests {
        /// Images exported from a running guest (vda as qcow2, vdb as raw) seed its first point, which restores to
        /// exactly the images; bad requests are refused before any job starts; the next sync is a consistency check
        /// that sends only what changed since the export, and restores bit-exact.
        @Test func seedFromExportedImagesThenConsistencyCheck() async throws {
            let testbed = try await Testbed.start(chunkSize: "1M")
            defer { testbed.stop() }
            try await withGuest(on: testbed) { guest in
                let name = guest.name
                let uuid = try await testbed.protect(name)
                let hypervisor = guest.hypervisor
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x5a, offset: "1M", length: "256k") }
                let vdaImage = guest.directory.file("export-vda.qcow2")
                let vdbImage = guest.directory.file("export-vdb.img")
                try ChildProcess.run("qemu-img", ["convert", "-U", "-O", "qcow2", guest.vdaPath, vdaImage])
                try ChildProcess.run("qemu-img", ["convert", "-U", "-O", "raw", guest.vdbPath, vdbImage])
                // The VM goes on writing after the export: the next sync must find this.
                try await hypervisor.run { try $0.domain(named: name).qemuIOWrite(byte: 0x6b, offset: "9M", length: "64k") }

                let small = guest.directory.file("small.qcow2")
                try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", small, "1M"])
                // An overlay would make qemu-nbd open its backing file as root, and a link could point anywhere.
                let overlay = guest.directory.file("overlay.qcow2")
                try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", vdaImage, "-F", "qcow2", overlay])
                let link = guest.directory.file("link.qcow2")
                try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: vdaImage)
                let vm = "\(testbed.host)/\(name)"
                for (disks, expected) in [
                    ([SeedRequest.Disk(target: "vda", path: overlay), .init(target: "vdb", path: vdbImage)], "with a backing file"),
                    ([.init(target: "vda", path: link), .init(target: "vdb", path: vdbImage)], "symbolic link"),
                    ([.init(target: "vda", path: vdaImage)], "also has disk vdb"),
                    ([.init(target: "vda", path: vdaImage), .init(target: "vdb", path: "relative.img")], "not absolute"),
                    ([.init(target: "vda", path: vdaImage), .init(target: "vdb", path: "/nonexistent/vdb.img")], "no image file"),
                    ([.init(target: "vda", path: small), .init(target: "vdb", path: vdbImage)], "but disk vda"),
                    ([.init(target: "vda", path: vdaImage), .init(target: "vdc", path: vdbImage)], "no disk vdc"),
                ] {
                    do {
                        let _: JobView = try await testbed.client.post("/v1/seed", SeedRequest(vm: vm, disks: disks))
                        Issue.record("a bad seed request was accepted: \(disks)")
                    } catch {
                        #expect("\(error)".contains(expected), "\(error)")
                    }
                }
                let jobs: [JobView] = try await testbed.client.get("/v1/jobs")
                #expect(!jobs.contains { $0.kind == "seed" }, "a refused seed left a job")

                let request = SeedRequest(vm: vm, disks: [.init(target: "vda", path: vdaImage), .init(target: "vdb", path: vdbImage)])
                let started: JobView = try await testbed.client.post("/v1/seed", request)
                #expect(started.kind == "seed" && started.state == .running)
                let seeded = try await testbed.wait(started.id)
                #expect(seeded.state == .succeeded, "\(seeded.error ?? "")")
                let seedPoint = try #require(try await testbed.points(name).first)
                #expect(seedPoint.syncKind == .seed && seedPoint.transferredBytes == 0)
                for (disk, image) in [("vda", vdaImage), ("vdb", vdbImage)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: seedPoint.id, disk: disk)
                            == (try imageDigest(image, scratch: guest.directory)), "disk \(disk) of the seed")
                }
                do {
                    let _: JobView = try await testbed.client.post("/v1/seed", request)
                    Issue.record("a second seed was accepted")
                } catch {
                    #expect("\(error)".contains("recovery points already"), "\(error)")
                }

                // The next sync compares every allocated chunk with the seed and sends only what changed.
                let check = try await testbed.backup(name)
                #expect(check.state == .succeeded, "\(check.error ?? "")")
                let points = try await testbed.points(name)
                #expect(points.count == 2 && points.first?.syncKind == .consistencyCheck)
                let sent = check.bytes?.bytesSent ?? .max
                #expect(sent > 0 && sent <= 4 << 20, "the check after the seed sent \(sent) bytes")
                let last = try #require(points.first)
                try await hypervisor.run { try $0.domain(named: name).destroy() }
                for (disk, path) in [("vda", guest.vdaPath), ("vdb", guest.vdbPath)] {
                    #expect(
                        try testbed.restoredDigest(vm: uuid, point: last.id, disk: disk)
                            == (try imageDigest(path, scratch: guest.directory)), "disk \(disk) after the check")
                }
            }
        }
    }
}
