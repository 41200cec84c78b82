import BulwarkAPI
import BulwarkClient
import BulwarkServer
import Foundation
import GuestFiles
import TestSupport
import Testing

/// Browsing and item-level copies against a real bulwarkd: the guest's GPT and ext4 are parsed by
/// `bulwark-guest-reader` as an unprivileged user in namespaces of its own, never by bulwarkd; a helper that
/// crashes or hangs fails that one browse and the next starts a new one.
@Suite struct GuestReaderSandboxTests {
    /// An 8 MiB disk made here: a GPT with one ext4 partition holding a file, a folder and a link.
    static func craftedDisk(_ folder: TemporaryDirectory) throws -> [UInt8] {
        let source = folder.file("source")
        try FileManager.default.createDirectory(atPath: "\(source)/dir", withIntermediateDirectories: true)
        try Data("hello from a sandbox\n".utf8).write(to: URL(fileURLWithPath: "\(source)/hello.txt"))
        try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: "\(source)/dir/data.bin"))
        try FileManager.default.createSymbolicLink(atPath: "\(source)/link", withDestinationPath: "/etc/shadow")
        let disk = folder.file("disk.raw")
        _ = try ChildProcess.run("truncate", ["-s", "8M", disk])
        let script = folder.file("layout")
        try Data("label: gpt\nstart=2048, size=14000\n".utf8).write(to: URL(fileURLWithPath: script))
        _ = try ChildProcess.run("sh", ["-c", "sfdisk --no-reread --no-tell-kernel -q \(disk) < \(script)"])
        let part = folder.file("part.img")
        _ = try ChildProcess.run("truncate", ["-s", "\(14000 * 512)", part])
        _ = try ChildProcess.run("mkfs.ext4", ["-q", "-F", "-L", "crafted", "-d", source, part])
        _ = try ChildProcess.run("dd", ["if=\(part)", "of=\(disk)", "bs=512", "seek=2048", "conv=notrunc", "status=none"])
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: disk)))
    }

    /// The helpers running now under this process (bulwarkd runs in the test process), by host pid.
    static func helpers() -> [Int32] {
        let me = getpid()
        func parent(_ pid: Int32) -> Int32? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
            return status.split(separator: "\n").first { $0.hasPrefix("PPid:") }
                .flatMap { Int32($0.dropFirst(5).trimmingCharacters(in: .whitespaces)) }
        }
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                comm.hasPrefix("bulwark-guest-r")
            else { return false }
            var current = pid
            for _ in 0..<8 {
                guard let next = parent(current), next > 1 else { return false }
                if next == me { return true }
                current = next
            }
            return false
        }
    }

    static func statusField(_ pid: Int32, _ name: String) throws -> [String] {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("\(name):") })
        return line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    }

    @Test func aCraftedGPTAndExt4AreParsedOnlyByAnUnprivilegedHelperInItsOwnNamespaces() async throws {
        let folder = try TemporaryDirectory("sandbox-browse")
        defer { folder.cleanUp() }
        let image = try Self.craftedDisk(folder)
        try await AgentProtocolTests.withFleet(vda: image) { fleet in
            let point = try await VerificationTests.backUp(fleet)
            let vm = "kvm1/web1"
            let before = Set(Self.helpers())
            let root: BrowseView = try await fleet.admin.get("/v1/browse?vm=\(vm)&point=\(point)&path=/")
            #expect(root.entries.contains { $0.name == "vda1" && $0.fileSystem == "ext4" && $0.label == "crafted" }, "\(root.entries)")
            let top: BrowseView = try await fleet.admin.get("/v1/browse?vm=\(vm)&point=\(point)&path=/vda1")
            #expect(Set(top.entries.map(\.name)).isSuperset(of: ["hello.txt", "dir", "link"]), "\(top.entries)")
            #expect(top.entries.first { $0.name == "link" }?.target == "/etc/shadow")

            // The reader of this point stays up between browses: it is the one that parsed the point.
            let helper = try #require(Set(Self.helpers()).subtracting(before).first, "no bulwark-guest-reader runs for the browse")
            #expect(try Self.statusField(helper, "Uid").allSatisfy { $0 != "0" })
            #expect(try Self.statusField(helper, "Gid").allSatisfy { $0 != "0" })
            #expect(try Self.statusField(helper, "CapEff") == ["0000000000000000"])
            #expect(try Self.statusField(helper, "CapPrm") == ["0000000000000000"])
            #expect(try Self.statusField(helper, "NoNewPrivs") == ["1"])
            for namespace in ["user", "mnt", "pid", "net", "ipc", "uts"] {
                let mine = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/\(namespace)")
                let its = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(helper)/ns/\(namespace)")
                #expect(mine != its, "the helper shares bulwarkd's \(namespace) namespace")
            }
            // Its view of the file system holds none of the server's files: no data directory, no datastore, no
            // CA key, no /etc beyond the loader's cache; only the disks' socket folder.
            let view = "/proc/\(helper)/root"
            #expect(FileManager.default.fileExists(atPath: "\(view)/run/bulwark/disks"))
            for hidden in [fleet.directory.path, fleet.storePath, "/etc/shadow", "/etc/passwd", "/root", "/home", "/var/lib"] {
                #expect(!FileManager.default.fileExists(atPath: "\(view)\(hidden)"), "the helper sees \(hidden)")
            }

            // An item-level copy goes through the same helper; bulwarkd writes what it reads.
            let target = folder.file("copied")
            try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
            let job: JobView = try await fleet.admin.post(
                "/v1/recover", RecoveryRequest(vm: vm, point: point.description, items: ["/vda1/hello.txt", "/vda1/dir", "/vda1/link"], toFolder: target))
            var done: JobView = try await fleet.admin.get("/v1/jobs/\(job.id)?wait=10")
            for _ in 0..<6 where done.state == .running || done.state == .queued {
                done = try await fleet.admin.get("/v1/jobs/\(job.id)?wait=10")
            }
            #expect(done.state == .succeeded, "\(done.error ?? "")")
            #expect(try String(contentsOfFile: "\(target)/hello.txt", encoding: .utf8) == "hello from a sandbox\n")
            #expect(try Data(contentsOf: URL(fileURLWithPath: "\(target)/dir/data.bin")) == Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }))
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(target)/link") == "/etc/shadow")
        }
    }

    @Test func aHelperThatCrashesOrHangsFailsThatBrowseOnly() async throws {
        let folder = try TemporaryDirectory("sandbox-faults")
        defer { folder.cleanUp() }
        let image = try Self.craftedDisk(folder)
        var sandbox = try GuestReaderSandbox.located()
        sandbox.testFaults = true
        sandbox.answerTimeout = .seconds(3)
        try await AgentProtocolTests.withFleet(vda: image, configure: { $0.guestReader = sandbox }) { fleet in
            let point = try await VerificationTests.backUp(fleet)
            let browse = "/v1/browse?vm=kvm1/web1&point=\(point)&path="
            let crashed = await refusal { let _: BrowseView = try await fleet.admin.get(browse + "/vda1/__crash__") }
            #expect(crashed?.code == .rejected, "\(String(describing: crashed))")
            #expect(crashed?.message.contains("crashed (signal 11") == true && crashed?.message.contains("point \(point)") == true, "\(String(describing: crashed))")
            let after: BrowseView = try await fleet.admin.get(browse + "/vda1")
            #expect(after.entries.contains { $0.name == "hello.txt" })

            let hung = await refusal { let _: BrowseView = try await fleet.admin.get(browse + "/vda1/__hang__") }
            #expect(hung?.code == .rejected, "\(String(describing: hung))")
            #expect(hung?.message.contains("did not answer within") == true, "\(String(describing: hung))")
            let again: BrowseView = try await fleet.admin.get(browse + "/vda1/dir")
            #expect(again.entries.map(\.name) == ["data.bin"])
        }
    }
}
