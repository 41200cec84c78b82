import Foundation
import GuestFiles
import TestSupport
import Testing

/// Item-level reading of guest file systems made here with mkfs.ext4 and sfdisk: GPT, MBR and whole-disk ext4,
/// links kept as links, nothing written outside the target folder, damage refused with a clear error.
@Suite struct GuestFilesTests {
    /// A disk image file read as a guest disk.
    struct FileDisk: GuestDisk {
        let target: String
        let path: String
        let size: UInt64

        init(target: String, path: String) throws {
            self.target = target
            self.path = path
            size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.uint64Value ?? 0
        }

        func read(offset: UInt64, length: Int) throws -> [UInt8] {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seek(toOffset: offset)
            return [UInt8](try handle.read(upToCount: length) ?? Data())
        }
    }

    /// The guest's files: a text file, a nested 1 MiB file, a file of mode 0640 with its own time, links that point
    /// inside, outside and absolutely, and a FIFO.
    static func makeSource(_ folder: TemporaryDirectory) throws -> String {
        let source = folder.file("source")
        try FileManager.default.createDirectory(atPath: "\(source)/dir/nested", withIntermediateDirectories: true)
        try Data("hello from bulwark\n".utf8).write(to: URL(fileURLWithPath: "\(source)/hello.txt"))
        try Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: "\(source)/dir/nested/data.bin"))
        try Data("private\n".utf8).write(to: URL(fileURLWithPath: "\(source)/mode-0640.txt"))
        _ = try ChildProcess.run("chmod", ["0640", "\(source)/mode-0640.txt"])
        _ = try ChildProcess.run("touch", ["-d", "2024-01-02 03:04:05 UTC", "\(source)/mode-0640.txt"])
        try FileManager.default.createSymbolicLink(atPath: "\(source)/link-to-hello", withDestinationPath: "hello.txt")
        try FileManager.default.createSymbolicLink(atPath: "\(source)/escape", withDestinationPath: "../../../../etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: "\(source)/dir/absolute", withDestinationPath: "/etc/shadow")
        _ = try ChildProcess.run("mkfifo", ["\(source)/dir/pipe"])
        return source
    }

    /// A 64 MiB disk with one ext4 partition (`label` gpt or dos) holding `source`, or ext4 on the whole disk.
    static func makeDisk(_ folder: TemporaryDirectory, source: String, label: String?) throws -> String {
        let disk = folder.file("disk-\(label ?? "whole").raw")
        _ = try ChildProcess.run("truncate", ["-s", "64M", disk])
        guard let label else {
            _ = try ChildProcess.run("mkfs.ext4", ["-q", "-F", "-L", "whole", "-d", source, disk])
            return disk
        }
        let script = folder.file("layout-\(label)")
        try Data("label: \(label)\nstart=2048, size=100000\n".utf8).write(to: URL(fileURLWithPath: script))
        _ = try ChildProcess.run("sh", ["-c", "sfdisk --no-reread --no-tell-kernel -q \(disk) < \(script)"])
        let part = folder.file("part-\(label).img")
        _ = try ChildProcess.run("truncate", ["-s", "\(100000 * 512)", part])
        _ = try ChildProcess.run("mkfs.ext4", ["-q", "-F", "-L", "data-\(label)", "-d", source, part])
        _ = try ChildProcess.run("dd", ["if=\(part)", "of=\(disk)", "bs=512", "seek=2048", "conv=notrunc,sparse", "status=none"])
        return disk
    }

    @Test(arguments: ["gpt", "dos", nil] as [String?])
    func filesListAndExtractLikeTheGuestHasThem(label: String?) throws {
        let folder = try TemporaryDirectory("guest-files")
        defer { folder.cleanUp() }
        let source = try Self.makeSource(folder)
        let browser = try GuestBrowser(disks: [try FileDisk(target: "vdb", path: try Self.makeDisk(folder, source: source, label: label))])
        let fs = label == nil ? "vdb" : "vdb1"
        let root = try browser.list("/")
        #expect(root.map(\.name) == [fs] && root.first?.fileSystem == "ext4" && root.first?.kind == .filesystem)
        #expect(root.first?.label == (label.map { "data-\($0)" } ?? "whole"))

        let top = try browser.list("/\(fs)")
        let names = Set(top.map(\.name))
        #expect(names.isSuperset(of: ["hello.txt", "dir", "mode-0640.txt", "link-to-hello", "escape", "lost+found"]), "\(names)")
        let link = try #require(top.first { $0.name == "link-to-hello" })
        #expect(link.kind == .symlink && link.target == "hello.txt")
        let private_ = try #require(top.first { $0.name == "mode-0640.txt" })
        #expect(private_.mode == 0o640 && private_.modified == Date(timeIntervalSince1970: 1_704_164_645))
        #expect(try browser.list("/\(fs)/dir/nested/data.bin").first?.size == 1 << 20)

        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let report = try GuestExtractor(browser: browser).extract(
            ["/\(fs)/hello.txt", "/\(fs)/dir", "/\(fs)/mode-0640.txt", "/\(fs)/escape", "/\(fs)/link-to-hello"], into: target)
        #expect(report.files == 3 && report.links == 3 && report.folders == 2, "\(report)")
        #expect(report.warnings.count == 1 && report.warnings[0].contains("pipe") && report.warnings[0].contains("fifo"), "\(report.warnings)")
        for file in ["hello.txt", "dir/nested/data.bin", "mode-0640.txt"] {
            #expect(FileManager.default.contents(atPath: "\(target)/\(file)") == FileManager.default.contents(atPath: "\(source)/\(file)"), "\(file)")
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(target)/mode-0640.txt")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o640)
        #expect((attributes[.modificationDate] as? Date) == Date(timeIntervalSince1970: 1_704_164_645))
        // Links are links, pointing where they pointed in the guest, and were never followed.
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(target)/escape") == "../../../../etc/passwd")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(target)/dir/absolute") == "/etc/shadow")
        #expect(!FileManager.default.fileExists(atPath: "\(target)/dir/pipe"))

        // Into a folder that has one of the names already: refused before anything is written, nothing overwritten.
        let again = folder.file("again")
        try FileManager.default.createDirectory(atPath: again, withIntermediateDirectories: true)
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: "\(again)/hello.txt"))
        #expect(throws: GuestFilesError.self) {
            try GuestExtractor(browser: browser).extract(["/\(fs)/dir", "/\(fs)/hello.txt"], into: again)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: again) == ["hello.txt"])
        #expect(FileManager.default.contents(atPath: "\(again)/hello.txt") == Data("mine\n".utf8))
    }

    /// A copy never writes more than its byte limit (what the point's disks hold), whatever the guest's sizes say:
    /// past it the extraction fails and removes what it made; holes do not count.
    @Test func aCopyStopsAtItsByteLimit() throws {
        let folder = try TemporaryDirectory("guest-files")
        defer { folder.cleanUp() }
        let source = try Self.makeSource(folder)
        let browser = try GuestBrowser(disks: [try FileDisk(target: "vdb", path: try Self.makeDisk(folder, source: source, label: "gpt"))])
        let target = folder.file("limited")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        do {
            _ = try GuestExtractor(browser: browser, byteLimit: 64 << 10).extract(["/vdb1/dir"], into: target)
            Issue.record("a 1 MiB file went out under a 64 KiB limit")
        } catch let error as GuestFilesError {
            #expect(error.code == .target && error.message.contains("more than 65536 bytes"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).isEmpty, "nothing was kept")
        let report = try GuestExtractor(browser: browser, byteLimit: 2 << 20).extract(["/vdb1/dir"], into: target)
        #expect(report.written <= report.bytes && report.written > 0)
    }

    /// The target's disk fills up part-way: the extraction fails saying so and removes what it made, and only that.
    @Test func aFullTargetLeavesOnlyWhatWasThere() throws {
        let folder = try TemporaryDirectory("guest-files")
        defer { folder.cleanUp() }
        let source = try Self.makeSource(folder)
        let browser = try GuestBrowser(disks: [try FileDisk(target: "vdb", path: try Self.makeDisk(folder, source: source, label: "gpt"))])
        let small = folder.file("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        _ = try ChildProcess.run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", small])
        defer { _ = try? ChildProcess.run("umount", [small]) }
        try Data("mine\n".utf8).write(to: URL(fileURLWithPath: "\(small)/mine.txt"))
        do {
            _ = try GuestExtractor(browser: browser).extract(["/vdb1/hello.txt", "/vdb1/dir"], into: small)
            Issue.record("1 MiB went into a 256 KiB file system")
        } catch let error as GuestFilesError {
            #expect(error.code == .target && error.message.contains("full"), "\(error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: small) == ["mine.txt"])
    }

    @Test func badPathsAndOtherFileSystemsAreRefusedClearly() throws {
        let folder = try TemporaryDirectory("guest-files")
        defer { folder.cleanUp() }
        let source = try Self.makeSource(folder)
        let disk = try FileDisk(target: "vda", path: try Self.makeDisk(folder, source: source, label: "gpt"))
        let zeros = folder.file("zeros.raw")
        _ = try ChildProcess.run("truncate", ["-s", "8M", zeros])
        let browser = try GuestBrowser(disks: [disk, try FileDisk(target: "vdb", path: zeros)])
        let volumes = try browser.volumes()
        #expect(volumes.map(\.name) == ["vda1", "vdb"] && volumes.last?.type == "unknown")
        for (path, fragment) in [
            ("vda1/hello.txt", "absolute"), ("/vda1/../etc", "'..'"), ("/vda9", "no file system vda9"),
            ("/vdb/x", "holds no file system"), ("/vda1/nothing", "there is no nothing"),
            ("/vda1/hello.txt/x", "not a folder"),
        ] {
            do {
                _ = try browser.list(path)
                Issue.record("\(path) was listed")
            } catch let error as GuestFilesError {
                #expect(error.message.contains(fragment), "\(path): \(error.message)")
            }
        }
        // Through a link to a folder: not followed.
        do {
            _ = try browser.list("/vda1/escape/x")
            Issue.record("a path through a link was followed")
        } catch let error as GuestFilesError {
            #expect(error.code == .notFound, "\(error)")
        }
        let target = folder.file("out")
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        #expect(throws: GuestFilesError.self) { try GuestExtractor(browser: browser).extract(["/vda1"], into: target) }
        #expect(throws: GuestFilesError.self) { try GuestExtractor(browser: browser).extract(["/vda1/hello.txt"], into: target + "/missing") }
        try FileManager.default.createSymbolicLink(atPath: folder.file("linked-out"), withDestinationPath: target)
        #expect(throws: GuestFilesError.self, "a target folder that is a link is refused") {
            try GuestExtractor(browser: browser).extract(["/vda1/hello.txt"], into: folder.file("linked-out"))
        }
    }

    /// A file system whose superblock is damaged: a clear error, not a crash.
    @Test func aDamagedFileSystemIsAClearError() throws {
        let folder = try TemporaryDirectory("guest-files")
        defer { folder.cleanUp() }
        let path = try Self.makeDisk(folder, source: try Self.makeSource(folder), label: nil)
        // Keep the magic so it is taken for ext4, but wreck the block counts and group descriptors.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 1024)
        try handle.write(contentsOf: Data(repeating: 0xff, count: 40))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xee, count: 8192))
        try handle.close()
        let browser = try GuestBrowser(disks: [try FileDisk(target: "vda", path: path)])
        do {
            _ = try browser.list("/vda")
            Issue.record("a damaged file system was listed")
        } catch let error as GuestFilesError {
            #expect(error.code == .corrupt && error.message.contains("cannot be opened"), "\(error)")
        }
    }
}
