import Foundation
import GuestFiles
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The sandboxed reader (`bulwark-guest-reader` under bubblewrap) answers as the in-process browser does, and its
/// crashes and hangs end the one call, never the caller. Needs the helper built (`swift build --product
/// bulwark-guest-reader`) and bubblewrap installed.
@Suite struct GuestReaderTests {
    static func sandbox() throws -> GuestReaderSandbox {
        var sandbox = try GuestReaderSandbox.located()
        sandbox.testFaults = true
        sandbox.answerTimeout = .seconds(3)
        return sandbox
    }

    @Test func theSandboxedReaderListsAndExtractsLikeTheBrowser() throws {
        let folder = try TemporaryDirectory("guest-reader")
        defer { folder.cleanUp() }
        let source = try GuestFilesTests.makeSource(folder)
        let disk = try GuestFilesTests.FileDisk(target: "vdb", path: try GuestFilesTests.makeDisk(folder, source: source, label: "gpt"))
        let reader = try GuestReader(disks: [disk], label: "point test", sandbox: try Self.sandbox())
        defer { reader.close() }
        let browser = try GuestBrowser(disks: [disk])
        for path in ["/", "/vdb1", "/vdb1/dir", "/vdb1/dir/nested/data.bin", "/vdb1/link-to-hello"] {
            #expect(try reader.list(path) == browser.list(path), "\(path)")
        }
        #expect(try reader.entry("/vdb1/mode-0640.txt") == browser.entry("/vdb1/mode-0640.txt"))
        let missing = #expect(throws: GuestFilesError.self) { try reader.list("/vdb1/nothing") }
        #expect(missing?.code == .notFound, "\(String(describing: missing))")
        #expect(reader.isRunning, "a refused path is an answer, not the end of the reader")

        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let report = try GuestExtractor(browser: reader).extract(["/vdb1/dir", "/vdb1/hello.txt", "/vdb1/escape"], into: target)
        #expect(report.files == 2 && report.links == 2 && report.folders == 2, "\(report)")
        for file in ["hello.txt", "dir/nested/data.bin"] {
            #expect(FileManager.default.contents(atPath: "\(target)/\(file)") == FileManager.default.contents(atPath: "\(source)/\(file)"), "\(file)")
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(target)/escape") == "../../../../etc/passwd")
    }

    @Test func runsOfZerosAreCopiedAsHoles() throws {
        let folder = try TemporaryDirectory("guest-reader-holes")
        defer { folder.cleanUp() }
        let source = folder.file("source")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        _ = try ChildProcess.run("truncate", ["-s", "8M", "\(source)/sparse.img"])
        _ = try ChildProcess.run("sh", ["-c", "printf tail | dd of=\(source)/sparse.img bs=1 seek=8000000 conv=notrunc status=none"])
        let disk = try GuestFilesTests.FileDisk(target: "vdb", path: try GuestFilesTests.makeDisk(folder, source: source, label: nil))
        let reader = try GuestReader(disks: [disk], label: "point test", sandbox: try Self.sandbox())
        defer { reader.close() }
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        _ = try GuestExtractor(browser: reader).extract(["/vdb/sparse.img"], into: target)
        #expect(FileManager.default.contents(atPath: "\(target)/sparse.img") == FileManager.default.contents(atPath: "\(source)/sparse.img"))
        var status = stat()
        #expect(stat("\(target)/sparse.img", &status) == 0)
        #expect(status.st_blocks * 512 < 1 << 20, "8 MB of zeros were written as data: \(status.st_blocks) blocks")
    }

    @Test func aCrashOrAHangEndsTheCallAndTheReaderOnly() throws {
        let folder = try TemporaryDirectory("guest-reader-faults")
        defer { folder.cleanUp() }
        let source = try GuestFilesTests.makeSource(folder)
        let disk = try GuestFilesTests.FileDisk(target: "vdb", path: try GuestFilesTests.makeDisk(folder, source: source, label: "gpt"))
        let sandbox = try Self.sandbox()

        let crashing = try GuestReader(disks: [disk], label: "point crash-test", sandbox: sandbox)
        #expect(try crashing.list("/vdb1").contains { $0.name == "hello.txt" })
        let crash = #expect(throws: GuestFilesError.self) { try crashing.list("/vdb1/__crash__") }
        #expect(crash?.message.contains("point crash-test") == true && crash?.message.contains("crashed (signal 11") == true, "\(String(describing: crash))")
        #expect(crash?.message.contains("/vdb1/__crash__") == true)
        #expect(!crashing.isRunning)
        let later = #expect(throws: GuestFilesError.self) { try crashing.list("/vdb1") }
        #expect(later?.message.contains("crashed") == true, "a reader that crashed stays ended: \(String(describing: later))")
        crashing.close()

        let hanging = try GuestReader(disks: [disk], label: "point hang-test", sandbox: sandbox)
        let hang = #expect(throws: GuestFilesError.self) { try hanging.list("/vdb1/__hang__") }
        #expect(hang?.message.contains("did not answer within") == true, "\(String(describing: hang))")
        #expect(!hanging.isRunning && kill(hanging.pid, 0) != 0)
        hanging.close()

        // A new reader reads as if nothing happened.
        let next = try GuestReader(disks: [disk], label: "point test", sandbox: sandbox)
        defer { next.close() }
        #expect(try next.list("/vdb1/dir").map(\.name) == ["absolute", "nested", "pipe"])
    }

    /// libguestfs runs inside the sandbox too, its appliance a child of the helper, from a fixed appliance built as
    /// root outside it.
    @Test(.enabled(if: LVMKit.present && (try? GuestReaderSandbox.located().appliance) != nil, "needs libguestfs, a fixed appliance and the kit's LVM disk"))
    func logicalVolumesXFSAndNTFSAreReadInTheSandbox() throws {
        let folder = try TemporaryDirectory("guest-reader-lvm")
        defer { folder.cleanUp() }
        let raw = folder.file("lvm.raw")
        _ = try ChildProcess.run("qemu-img", ["convert", "-O", "raw", LVMKit.disk, raw])
        var sandbox = try GuestReaderSandbox.located()
        sandbox.answerTimeout = .seconds(600)
        let reader = try GuestReader(disks: [try GuestFilesTests.FileDisk(target: "vdb", path: raw)], label: "point lvm", sandbox: sandbox)
        defer { reader.close() }
        let root = try reader.list("/")
        #expect(root.contains { $0.name == "bwvg-data" && $0.fileSystem == "xfs" }, "\(root)")
        #expect(root.contains { $0.name == "vdb2" && $0.fileSystem == "ntfs" }, "\(root)")
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        _ = try GuestExtractor(browser: reader).extract(["/bwvg-data/docs", "/vdb2/Folder"], into: target)
        let digests = try LVMKit.digests()
        let report = try #require(digests.first { $0.key.hasSuffix("docs/report.txt") })
        #expect(try sha256(ofFile: "\(target)/docs/report.txt") == report.value)
    }
}
