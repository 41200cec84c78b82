import Foundation
import GuestFiles
import Testing

/// Every input the fuzz targets keep in `Tests/Fuzz/corpus` (the seeds, and each crash a fuzz run found once),
/// run through the same functions the libFuzzer entry points call: a plain test run without libFuzzer, so a crash
/// fixed stays fixed.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus")

    static func inputs(_ target: String) throws -> [(name: String, bytes: [UInt8])] {
        let folder = corpus.appendingPathComponent(target)
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted().map { name in
            (name, [UInt8](try Data(contentsOf: folder.appendingPathComponent(name))))
        }
    }

    @Test func thePartitionTableCorpusReplaysWithoutACrash() throws {
        let inputs = try Self.inputs("partition-table")
        #expect(inputs.count >= 3)
        for input in inputs { FuzzTargets.partitionTable(input.bytes) }
    }

    @Test func theExt2DirectoryCorpusReplaysWithoutACrash() throws {
        let inputs = try Self.inputs("ext2-directories")
        #expect(inputs.count >= 4)
        for input in inputs { FuzzTargets.ext2Directories(input.bytes) }
    }

    /// The seeds are what they are named: sound tables and file systems a browser reads, so the fuzzer starts from
    /// inputs that reach deep into the parsers.
    @Test func theSeedsBrowse() throws {
        let gpt = try #require(try Self.inputs("partition-table").first { $0.name == "gpt-two-partitions-ext2-in-second" })
        let volumes = try GuestBrowser(disks: [MemoryDisk(target: "vda", bytes: gpt.bytes)]).volumes()
        #expect(volumes.map(\.name) == ["vda1", "vda2"] && volumes.last?.type == "ext2", "\(volumes)")
        let ext4 = try #require(try Self.inputs("ext2-directories").first { $0.name == "ext4-files-links-fifo" })
        let browser = try GuestBrowser(disks: [MemoryDisk(target: "vda", bytes: ext4.bytes)])
        #expect(Set(try browser.list("/vda").map(\.name)).isSuperset(of: ["hello.txt", "link", "slowlink", "dir"]))
        #expect(try browser.entry("/vda/slowlink").target?.hasSuffix("/long/target/that/is/not/fast") == true)
    }

    /// A superblock that gives more blocks than its volume holds is refused before libext2fs sizes its tables by it.
    @Test(arguments: [("ext4-files-links-fifo", false), ("ext4-inline-data-64bit-csum", true)])
    func aSuperblockLargerThanItsVolumeIsAnError(_ seed: String, highBits: Bool) throws {
        var bytes = try #require(try Self.inputs("ext2-directories").first { $0.name == seed }).bytes
        // s_blocks_count_lo, and s_blocks_count_hi where the 64bit feature gives it.
        for index in 0..<4 { bytes[1024 + 4 + index] = 0xff }
        if highBits { for index in 0..<4 { bytes[1024 + 0x150 + index] = 0xff } }
        let browser = try GuestBrowser(disks: [MemoryDisk(target: "vda", bytes: bytes)])
        do {
            _ = try browser.list("/vda")
            Issue.record("a file system larger than its volume was listed")
        } catch let error as GuestFilesError {
            #expect(error.code == .corrupt && error.message.contains("vda") && error.message.contains("more than the 131072 bytes of its volume"), "\(error)")
        }
    }
}
