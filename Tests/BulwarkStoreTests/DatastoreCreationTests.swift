import BulwarkStore
import Foundation
import Testing
import TestSupport

@Suite struct DatastoreCreationTests {
    @Test func createsAndOpensWithTheMarker() throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        let created = try Datastore.create(at: folder.file("a/b/store"))
        #expect(created.chunkSize == 4 << 20)
        #expect(created.root.hasSuffix("/a/b/store"))
        #expect(!created.root.contains("//"))
        let opened = try Datastore.open(at: folder.file("a/b/store/"))
        #expect(opened.configuration == created.configuration)
        #expect(opened.zeroDigest == created.zeroDigest)

        let marker = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder.file("a/b/store/.bulwark-datastore")))) as? [String: Any]
        #expect(marker?["formatVersion"] as? Int == 1)
        #expect(marker?["chunkSize"] as? Int == 4 << 20)
        #expect((marker?["uuid"] as? String).flatMap(UUID.init(uuidString:)) == created.configuration.uuid)
        #expect(marker?["createdAt"] is String)

        // An empty folder that exists is fine too.
        try FileManager.default.createDirectory(atPath: folder.file("empty"), withIntermediateDirectories: false)
        #expect(try Datastore.create(at: folder.file("empty"), chunkSize: 1 << 20).chunkSize == 1 << 20)
    }

    /// Every VM's data is in a datastore: its folder is closed to other users when made, and again when opened
    /// (a folder opened up by hand, or made by an older Bulwark), and its files are the owner's alone.
    @Test func theDatastoreIsClosedToOtherUsers() throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        let store = try Datastore.create(at: folder.file("store"), chunkSize: 64 << 10)
        func mode(_ path: String) -> mode_t {
            var status = stat()
            return stat(path, &status) == 0 ? status.st_mode & 0o777 : 0
        }
        #expect(mode(store.root) == 0o700)
        let chunk = try store.writeChunk([UInt8](repeating: 9, count: 100))
        let chunkFile = try #require(
            FileManager.default.subpathsOfDirectory(atPath: store.root + "/.chunks").first { $0.hasSuffix(chunk.digest.description) })
        #expect(mode(store.root + "/.chunks/" + chunkFile) == 0o600)
        #expect(mode(store.root + "/.bulwark-datastore") == 0o600)
        chmod(store.root, 0o755)
        _ = try Datastore.open(at: store.root)
        #expect(mode(store.root) == 0o700)
    }

    @Test(arguments: [0, 1000, 65535, 32 << 10, 3 << 20, (1 << 20) + 1, 32 << 20, -4096])
    func refusesChunkSizesThatAreNotPowersOfTwoFrom64KiBTo16MiB(size: Int) throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        let error = datastoreError { _ = try Datastore.create(at: folder.file("store"), chunkSize: size) }
        #expect(error?.code == .invalidChunkSize)
        #expect(error?.message.contains("\(size)") == true)
        #expect(!FileManager.default.fileExists(atPath: folder.file("store")))
        #expect(datastoreError { _ = try FixedIndex(chunkSize: size, logicalSize: 1) }?.code == .invalidChunkSize)
    }

    @Test(arguments: [64 << 10, 128 << 10, 4 << 20, 16 << 20])
    func acceptsEveryAllowedBoundary(size: Int) throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        #expect(try Datastore.create(at: folder.file("store"), chunkSize: size).chunkSize == size)
    }

    @Test func refusesFoldersThatAreNotEmptyOrAreFiles() throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        try writeFile(folder.file("notes.txt"), Array("hello".utf8))
        let error = datastoreError { _ = try Datastore.create(at: folder.path) }
        #expect(error?.code == .notEmpty)
        #expect(error?.message.contains("notes.txt") == true)
        #expect(datastoreError { _ = try Datastore.create(at: folder.file("notes.txt")) }?.code == .notADirectory)
        #expect(!FileManager.default.fileExists(atPath: folder.file(".bulwark-datastore")))
    }

    @Test func refusesADatastoreThatExistsOrOneInsideAnother() throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        let outer = try Datastore.create(at: folder.file("outer"), chunkSize: smallChunk)
        #expect(datastoreError { _ = try Datastore.create(at: folder.file("outer")) }?.code == .alreadyExists)
        for inner in ["outer/inner", "outer/x/y/z", "outer/.chunks/inner"] {
            let error = datastoreError { _ = try Datastore.create(at: folder.file(inner)) }
            #expect(error?.code == .nestedDatastore, "\(inner)")
            #expect(error?.message.contains(outer.root) == true)
        }
        #expect(!FileManager.default.fileExists(atPath: folder.file("outer/x")))

        // Through a link: the link's own path is outside, its target inside.
        try FileManager.default.createDirectory(atPath: folder.file("outer/sub"), withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: folder.file("link"), withDestinationPath: folder.file("outer/sub"))
        #expect(datastoreError { _ = try Datastore.create(at: folder.file("link")) }?.code == .nestedDatastore)
    }

    @Test func refusesPathsThatCannotBeWritten() throws {
        // Root may write almost anywhere, but not into /proc.
        let error = datastoreError { _ = try Datastore.create(at: "/proc/bulwark-test-store") }
        #expect(error?.code == .notWritable)
        #expect(error?.message.contains("/proc/bulwark-test-store") == true)
    }

    @Test func openRefusesFoldersWithoutAUsableMarker() throws {
        let folder = try TemporaryDirectory("bulwark-store")
        defer { folder.cleanUp() }
        #expect(datastoreError { _ = try Datastore.open(at: folder.file("missing")) }?.code == .notADatastore)
        #expect(datastoreError { _ = try Datastore.open(at: folder.path) }?.code == .notADatastore)
        try writeFile(folder.file("plain-file"), [1])
        #expect(datastoreError { _ = try Datastore.open(at: folder.file("plain-file")) }?.code == .notADatastore)

        let store = try Datastore.create(at: folder.file("store"), chunkSize: smallChunk)
        let markerPath = store.root + "/.bulwark-datastore"
        let marker = try fileBytes(markerPath)
        try writeFile(markerPath, Array("{not json".utf8))
        #expect(datastoreError { _ = try Datastore.open(at: store.root) }?.code == .notADatastore)

        let newer = String(decoding: marker, as: UTF8.self).replacingOccurrences(
            of: "\"formatVersion\" : 1", with: "\"formatVersion\" : 2")
        #expect(newer != String(decoding: marker, as: UTF8.self))
        try writeFile(markerPath, Array(newer.utf8))
        let error = datastoreError { _ = try Datastore.open(at: store.root) }
        #expect(error?.code == .unsupportedFormat)
        #expect(error?.message.contains("version 2") == true)

        let oddSize = String(decoding: marker, as: UTF8.self).replacingOccurrences(
            of: "\"chunkSize\" : 65536", with: "\"chunkSize\" : 65537")
        try writeFile(markerPath, Array(oddSize.utf8))
        #expect(datastoreError { _ = try Datastore.open(at: store.root) }?.code == .notADatastore)

        try writeFile(markerPath, marker)
        #expect(try Datastore.open(at: store.root).configuration == store.configuration)
    }
}
