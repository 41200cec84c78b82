import BulwarkStore
import Foundation
import TestSupport
import Testing

/// Files opened as root in paths others name: no link anywhere in the path is followed, and what was opened stays
/// what is written, whatever happens to the path afterwards.
@Suite struct PinnedFileTests {
    @Test func aLinkAnywhereInThePathIsRefused() throws {
        let folder = try TemporaryDirectory("bulwark-pinned")
        defer { folder.cleanUp() }
        try FileManager.default.createDirectory(atPath: folder.file("real"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.file("real/image"), contents: Data([1, 2, 3])))
        try FileManager.default.createSymbolicLink(atPath: folder.file("linked"), withDestinationPath: folder.file("real"))
        try FileManager.default.createSymbolicLink(atPath: folder.file("real/alias"), withDestinationPath: "image")

        #expect(try PinnedFile.open(folder.file("real/image"), flags: O_RDONLY).status().st_size == 3)
        for path in [folder.file("linked/image"), folder.file("real/alias")] {
            let error = #expect(throws: PinnedFileError.self) { try PinnedFile.open(path, flags: O_RDONLY) }
            #expect(error?.code == .symbolicLink && error?.message.contains("symbolic link") == true, "\(String(describing: error))")
        }
        #expect(throws: PinnedFileError.self) { try PinnedFile.folder(folder.file("linked")) }
        let dotted = #expect(throws: PinnedFileError.self) { try PinnedFile.open(folder.file("real/../real/image"), flags: O_RDONLY) }
        #expect(dotted?.code == .invalidPath)
        let missing = #expect(throws: PinnedFileError.self) { try PinnedFile.open(folder.file("real/none"), flags: O_RDONLY) }
        #expect(missing?.errno == ENOENT)
    }

    /// The folder is swapped for a link to another folder after it was checked and opened: the new file still lands
    /// in the folder that was opened, a helper given the stable path writes there too, and nothing appears in the
    /// link's target.
    @Test func aFolderSwappedForALinkAfterTheOpenRedirectsNothing() throws {
        let folder = try TemporaryDirectory("bulwark-pinned")
        defer { folder.cleanUp() }
        let restores = folder.file("restores")
        let elsewhere = folder.file("elsewhere")
        for path in [restores, elsewhere] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        let pinned = try PinnedFile.folder(restores)
        try FileManager.default.moveItem(atPath: restores, toPath: folder.file("moved"))
        try FileManager.default.createSymbolicLink(atPath: restores, withDestinationPath: elsewhere)

        let file = try pinned.create("disk.img")
        #expect(ftruncate(file.descriptor, 4096) == 0)
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", file.stablePath, "1M"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.file("moved")) == ["disk.img"])
        let info = try ChildProcess.run("qemu-img", ["info", folder.file("moved/disk.img")])
        #expect(info.contains("qcow2"))
        // A name that exists already is never written over, link or file.
        #expect(throws: PinnedFileError.self) { try pinned.create("disk.img") }
        try FileManager.default.createSymbolicLink(atPath: folder.file("moved/planted"), withDestinationPath: folder.file("elsewhere/x"))
        #expect(throws: PinnedFileError.self) { try pinned.create("planted") }
        #expect(!FileManager.default.fileExists(atPath: folder.file("elsewhere/x")))
    }
}
