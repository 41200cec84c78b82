import Foundation
import TestSupport
import Testing

@testable import BulwarkAgent

/// A restore's writer: qemu-nbd with direct I/O where the file system takes it, through the page cache where it does
/// not, and the same bytes land in the image either way.
@Suite struct DiskWriterTests {
    @Test func writesLandWithDirectIO() async throws {
        let directory = try TemporaryDirectory("disk-writer")
        defer { directory.cleanUp() }
        let direct = try await write(directory) { try await DiskWriter.open(path: $0, format: "qcow2") }
        #expect(direct)
    }

    /// A file system that refuses direct I/O is what makes qemu-nbd fail to open the image with it; options it
    /// refuses make it fail the same way.
    @Test func writesLandThroughThePageCacheWhenDirectIOIsRefused() async throws {
        let directory = try TemporaryDirectory("disk-writer")
        defer { directory.cleanUp() }
        let direct = try await write(directory) {
            try await DiskWriter.open(path: $0, format: "qcow2", directOptions: ["--cache=none", "--aio=no-such-mode"])
        }
        #expect(!direct)
    }

    /// Writes through the writer `open` makes, checks the image's bytes, and returns whether it wrote directly.
    private func write(_ directory: TemporaryDirectory, open: (String) async throws -> DiskWriter) async throws -> Bool {
        let image = directory.file("disk.qcow2")
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", image, "8M"])
        // Unaligned length and offset too: direct I/O is qemu's business, not the caller's.
        let pattern = ArraySlice((0..<(1 << 20) + 1000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let direct = try await writeAndRelease(open: { try await open(image) }, pattern: pattern)
        let raw = directory.file("disk.raw")
        try ChildProcess.run("qemu-img", ["convert", "-O", "raw", image, raw])
        let bytes = try #require(FileManager.default.contents(atPath: raw))
        #expect(bytes.count == 8 << 20)
        #expect(Array(bytes[(3 << 20)..<((3 << 20) + pattern.count)]) == Array(pattern))
        #expect(bytes[7..<520].allSatisfy { $0 == 0xab } && bytes[0] == 0 && bytes[520] == 0)
        return direct
    }

    /// The writer lives only inside: qemu-nbd holds the image's lock until it goes.
    private func writeAndRelease(open: () async throws -> DiskWriter, pattern: ArraySlice<UInt8>) async throws -> Bool {
        let writer = try await open()
        try await writer.write(pattern, offset: 3 << 20)
        try await writer.write(ArraySlice(repeating: 0xab, count: 513), offset: 7)
        try await writer.finish()
        return writer.direct
    }

    /// Writes that arrive while one is under way go out together as one batch; each lands where it was asked to.
    @Test func concurrentWritesAllLand() async throws {
        let directory = try TemporaryDirectory("disk-writer")
        defer { directory.cleanUp() }
        let image = directory.file("disk.qcow2")
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", image, "16M"])
        try await writeConcurrently(image)
        let raw = directory.file("disk.raw")
        try ChildProcess.run("qemu-img", ["convert", "-O", "raw", image, raw])
        let bytes = try #require(FileManager.default.contents(atPath: raw))
        for chunk in 0..<16 {
            #expect(bytes[(chunk << 20)..<((chunk + 1) << 20)].allSatisfy { $0 == UInt8(chunk + 1) }, "chunk \(chunk)")
        }
    }

    private func writeConcurrently(_ image: String) async throws {
        let writer = try await DiskWriter.open(path: image, format: "qcow2")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chunk in 0..<16 {
                group.addTask {
                    try await writer.write(ArraySlice(repeating: UInt8(chunk + 1), count: 1 << 20), offset: UInt64(chunk) << 20)
                }
            }
            try await group.waitForAll()
        }
        try await writer.finish()
    }

    /// A write qemu-nbd refuses (past the end of the image) fails, and the writer goes on with the next.
    @Test func aRefusedWriteFailsAlone() async throws {
        let directory = try TemporaryDirectory("disk-writer")
        defer { directory.cleanUp() }
        let image = directory.file("disk.qcow2")
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", image, "1M"])
        let writer = try await DiskWriter.open(path: image, format: "qcow2")
        await #expect(throws: (any Error).self) {
            try await writer.write(ArraySlice(repeating: 1, count: 4096), offset: 1 << 20)
        }
        try await writer.write(ArraySlice(repeating: 2, count: 4096), offset: 0)
        try await writer.finish()
    }
}
