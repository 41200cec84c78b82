import Foundation
@testable import GuestFiles
import TestSupport
import Testing

/// Where the testbed kit keeps its LVM/XFS/NTFS disk (`Agents/kvm/testbed/setup-host` makes it in a libguestfs
/// appliance) and the SHA-256 of the files on it.
enum LVMKit {
    static let directory = ProcessInfo.processInfo.environment["BULWARK_TESTBED_DIR"] ?? "/var/cache/bulwark-testbed"
    static let disk = "\(directory)/data-lvm-xfs-ntfs.qcow2"
    static let sums = "\(directory)/data-lvm-files.sha256"
    static var present: Bool { FileManager.default.fileExists(atPath: disk) && GuestBrowser.libguestfsUnavailable == nil }

    /// `sha256sum` lines, by path under the kit's `xfs` and `ntfs` folders.
    static func digests() throws -> [String: String] {
        var digests: [String: String] = [:]
        for line in try String(contentsOfFile: sums, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            if parts.count == 2 { digests[String(parts[1])] = String(parts[0]) }
        }
        return digests
    }
}

func sha256(ofFile path: String) throws -> String {
    String(try ChildProcess.run("sha256sum", [path]).prefix(64))
}

/// LVM, XFS and NTFS read through libguestfs (where it is installed; scripts/setup installs it and makes the disk):
/// the appliance reads the disk over Bulwark's own NBD server, as it reads a recovery point.
@Suite(.enabled(if: LVMKit.present, "needs libguestfs and the testbed kit's LVM disk (scripts/setup)"))
struct LibguestfsTests {
    @Test func logicalVolumesXFSAndNTFSListAndExtractLikeTheGuestHasThem() throws {
        let folder = try TemporaryDirectory("bulwark-guestfs")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        let browser = try GuestBrowser(disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)])

        let root = try browser.list("/")
        let byName = Dictionary(root.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["bwvg-data"]?.fileSystem == "xfs" && byName["bwvg-data"]?.label == "bw-xfs", "\(root)")
        #expect(byName["vdb2"]?.fileSystem == "ntfs" && byName["vdb2"]?.label == "bw-ntfs", "\(root)")
        #expect(byName["vdb1"]?.fileSystem == "lvm2", "the physical volume is listed by type: \(root)")

        let docs = try browser.list("/bwvg-data/docs")
        #expect(docs.map(\.name) == ["big.bin", "link", "report.txt", "sub"], "\(docs)")
        #expect(docs.first { $0.name == "link" }?.target == "report.txt")
        let report = try browser.entry("/bwvg-data/docs/report.txt")
        #expect(report.mode == 0o640 && Int(report.modified.timeIntervalSince1970) == 1_704_164_645)
        let missing = #expect(throws: GuestFilesError.self) { try browser.list("/bwvg-data/nothing") }
        #expect(missing?.code == .notFound, "\(String(describing: missing))")
        let noPartition = #expect(throws: GuestFilesError.self) { try browser.list("/vdb9/x") }
        #expect(noPartition?.code == .notFound, "\(String(describing: noPartition))")
        let physical = #expect(throws: GuestFilesError.self) { try browser.list("/vdb1") }
        #expect(physical?.code == .unsupported && physical?.message.contains("LVM physical volume") == true, "\(String(describing: physical))")

        // A second browser that goes straight to a path, without listing /: no probing of every file system.
        let direct = try GuestBrowser(disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)])
        #expect(try direct.list("/vdb2/Folder").map(\.name) == ["notes.txt"])
        #expect(try direct.list("/bwvg-data/docs/sub").map(\.name) == ["deep.txt"])
        let noPartitionYet = #expect(throws: GuestFilesError.self) { try direct.list("/vdb9/x") }
        #expect(noPartitionYet?.code == .notFound, "\(String(describing: noPartitionYet))")

        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let extracted = try GuestExtractor(browser: browser).extract(
            ["/bwvg-data/docs", "/vdb2/readme.txt", "/vdb2/Folder"], into: target)
        #expect(extracted.files == 5 && extracted.links == 1, "\(extracted)")
        for (path, digest) in try LVMKit.digests() {
            let out = path.hasPrefix("xfs/") ? String(path.dropFirst(4)) : String(path.dropFirst(5))
            #expect(try sha256(ofFile: "\(target)/\(out)") == digest, "\(out) differs from the guest's")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(target)/docs/link") == "report.txt")
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(target)/docs/report.txt")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        #expect((attributes[.modificationDate] as? Date).map { Int($0.timeIntervalSince1970) } == 1_704_164_645)
    }

    /// The appliance's QEMU killed under a browser: the next listing starts a new appliance and answers, and an
    /// extraction after it copies the file whole.
    @Test func aKilledApplianceIsReplacedOnTheNextCall() async throws {
        let folder = try TemporaryDirectory("bulwark-guestfs")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        let browser = try GuestBrowser(disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)])
        #expect(try browser.list("/bwvg-data/docs").count == 4)
        let first = try #require(browser.appliancePID)
        kill(first, SIGKILL)
        // Until libguestfs reaps it, a killed QEMU is a zombie ("Z" in /proc), not gone.
        try await waitUntil("the appliance's QEMU \(first) to stop", seconds: 30) {
            let status = (try? String(contentsOfFile: "/proc/\(first)/stat", encoding: .utf8)) ?? ""
            return status.isEmpty || status.contains(") Z ")
        }
        #expect(try browser.list("/bwvg-data/docs/sub").map(\.name) == ["deep.txt"])
        let second = try #require(browser.appliancePID)
        #expect(second != first)
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        _ = try GuestExtractor(browser: browser).extract(["/bwvg-data/docs/big.bin"], into: target)
        #expect(try sha256(ofFile: "\(target)/big.bin") == (try LVMKit.digests()["xfs/docs/big.bin"]))
    }

    /// An appliance that cannot start (no appliance where libguestfs looks): `/` still lists what the partition
    /// tables show, and a logical volume's path says why it cannot be read, at once on the second try.
    @Test func anApplianceThatCannotStartIsAClearErrorAndTheListingStays() throws {
        let folder = try TemporaryDirectory("bulwark-guestfs")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        let empty = folder.file("no-appliance")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let browser = try GuestBrowser(
            disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)], appliancePath: empty)
        let root = try browser.list("/")
        #expect(root.map(\.name) == ["vdb1", "vdb2"] && root.first?.fileSystem == "lvm2", "\(root)")
        for _ in 0..<2 {
            let failed = #expect(throws: GuestFilesError.self) { try browser.list("/bwvg-data/docs") }
            #expect(failed?.message.contains("start the libguestfs appliance") == true, "\(String(describing: failed))")
        }
    }

    /// An appliance that does not start in time (here, one second: no appliance starts that fast) is stopped: the
    /// listing fails saying so and what to set.
    @Test func anApplianceThatDoesNotStartInTimeIsStopped() throws {
        let folder = try TemporaryDirectory("bulwark-guestfs")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        let browser = try GuestBrowser(
            disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)], appliancePath: nil,
            applianceStartTimeout: .seconds(1))
        let failed = #expect(throws: GuestFilesError.self) { try browser.list("/bwvg-data/docs") }
        #expect(failed?.message.contains("did not start within 1") == true, "\(String(describing: failed))")
        #expect(failed?.message.contains("LIBGUESTFS_BACKEND_SETTINGS=force_tcg") == true)
        #expect(browser.appliancePID == nil)
    }

    /// A damaged XFS (its root inode's blocks overwritten) is a clear error naming the volume, copies nothing, and
    /// leaves the other file systems of the disk readable.
    @Test func aDamagedXFSIsAClearErrorAndTheRestStaysReadable() throws {
        let folder = try TemporaryDirectory("bulwark-guestfs")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        // The logical volume starts 2 MiB in (partition at 1 MiB, LVM's data at 1 MiB into it); its root inode's
        // chunk lies 64 KiB into the XFS.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: raw))
        try handle.seek(toOffset: 2 << 20 + 0x10000)
        try handle.write(contentsOf: Data(repeating: 0x5a, count: 64 << 10))
        try handle.close()
        let browser = try GuestBrowser(disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)])
        let damaged = #expect(throws: GuestFilesError.self) { try browser.list("/bwvg-data") }
        #expect(damaged?.code == .corrupt && damaged?.message.contains("bwvg-data") == true, "\(String(describing: damaged))")
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(throws: GuestFilesError.self) { try GuestExtractor(browser: browser).extract(["/bwvg-data/docs"], into: target) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty)
        #expect(try browser.list("/vdb2").map(\.name).contains("readme.txt"))
    }
}

/// How the appliance's devices are named in Bulwark's tree (no appliance needed).
@Suite struct GuestfsNamingTests {
    @Test func devicesAreNamedAfterTheGuestsDisks() {
        let disks = ["vda", "vdb"]
        #expect(GuestfsAppliance.name(of: "/dev/sda", disks: disks)?.name == "vda")
        #expect(GuestfsAppliance.name(of: "/dev/sdb2", disks: disks)?.name == "vdb2")
        #expect(GuestfsAppliance.name(of: "/dev/sdb2", disks: disks)?.disk == "vdb")
        #expect(GuestfsAppliance.name(of: "/dev/bwvg/data", disks: disks)?.name == "bwvg-data")
        #expect(GuestfsAppliance.name(of: "/dev/sdc1", disks: disks) == nil, "a third disk that is not there")
        #expect(GuestfsAppliance.name(of: "btrfsvol:/dev/sda2/root", disks: disks) == nil)
        #expect(GuestfsAppliance.name(of: "/dev/md0", disks: disks) == nil)
        #expect(GuestfsAppliance.name(of: "/dev/sdb2x", disks: disks) == nil)
        let many = (0..<28).map { "d\($0)" }
        #expect(GuestfsAppliance.name(of: "/dev/sdab1", disks: many)?.name == "d271", "sdaa is the 27th disk")
        #expect([0, 1, 25, 26, 27, 701, 702].map(GuestfsAppliance.letters) == ["a", "b", "z", "aa", "ab", "zz", "aaa"])
        for index in [0, 5, 26, 300] {
            let disks = (0...index).map { "d\($0)" }
            #expect(GuestfsAppliance.name(of: "/dev/sd\(GuestfsAppliance.letters(index))3", disks: disks)?.name == "d\(index)3")
        }
    }
}

/// The watchdog's search: processes found by a string in their command line, never this one.
@Suite struct LaunchWatchdogTests {
    @Test func aProcessIsFoundByItsCommandLineAndKilledOnlyAfterTheTimeout() async throws {
        let marker = "bulwark-watchdog-\(UUID().uuidString)"
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The marker is the shell's $0, in its command line. It waits on its input rather than in a child (sleep),
        // so when it is killed no orphan outlives the test.
        sleeper.arguments = ["-c", "read line", marker]
        let input = Pipe()
        sleeper.standardInput = input
        try sleeper.run()
        defer { if sleeper.isRunning { sleeper.terminate() } }
        // Reading a process's command line waits for that process's memory-map lock, so one scan of /proc can hang
        // for seconds behind a QEMU being torn down by a test running beside this one: the patience is for that.
        try await waitUntil("the sleeper to show in /proc", seconds: 120) {
            LaunchWatchdog.processes(holding: marker).contains(sleeper.processIdentifier)
        }
        let early = LaunchWatchdog(marker: marker, timeout: .seconds(60))
        #expect(!early.finish(), "finished in time: nothing killed")
        #expect(LaunchWatchdog.processes(holding: marker).contains(sleeper.processIdentifier))
        let late = LaunchWatchdog(marker: marker, timeout: .milliseconds(200))
        // Killed, it leaves /proc's command lines (a zombie has none) before Foundation notices.
        try await waitUntil("the watchdog to kill the sleeper", seconds: 120) { LaunchWatchdog.processes(holding: marker).isEmpty }
        #expect(late.finish())
    }

    /// A process that is not this one's child is never killed, whatever its command line holds.
    @Test func aProcessOfAnotherParentIsNeverKilled() async throws {
        let marker = "bulwark-watchdog-\(UUID().uuidString)"
        let folder = try TemporaryDirectory("bulwark-watchdog")
        defer { folder.cleanUp() }
        let pidFile = folder.file("inner.pid")
        // Both shells wait on the input pipe rather than in a child, so nothing outlives the test. The inner one is
        // the outer one's child, not this process's, and carries the marker in its command line too.
        let input = Pipe()
        let outer = Process()
        outer.executableURL = URL(fileURLWithPath: "/bin/sh")
        outer.arguments = ["-c", "sh -c 'echo $$ > \(pidFile); read line' \(marker)-inner; true", marker]
        outer.standardInput = input
        try outer.run()
        let outerPID = outer.processIdentifier
        var inner: pid_t?
        defer {
            if let inner { kill(inner, SIGKILL) }
            kill(outerPID, SIGKILL)
        }
        try await waitUntil("the inner shell to start", seconds: 120) {
            inner = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            return inner != nil
        }
        let grandchild = try #require(inner)
        #expect(LaunchWatchdog.parent(of: grandchild) == outerPID)
        let watchdog = LaunchWatchdog(marker: marker, timeout: .milliseconds(100))
        // The outer shell, this process's child, goes (a zombie until reaped); the inner one stays.
        try await waitUntil("the watchdog to kill the outer shell", seconds: 120) {
            let status = (try? String(contentsOfFile: "/proc/\(outerPID)/stat", encoding: .utf8)) ?? ""
            return status.isEmpty || status.contains(") Z ")
        }
        #expect(watchdog.finish())
        let innerStatus = (try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8)) ?? ""
        #expect(!innerStatus.isEmpty && !innerStatus.contains(") Z "), "the grandchild was killed: \(innerStatus)")
    }
}
