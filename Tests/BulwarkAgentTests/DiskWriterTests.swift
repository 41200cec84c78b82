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
}
