import Foundation
import NBD
import NBDServer
import TestSupport
import Testing

/// The server's protocol against clients nobody here wrote: libnbd (through the NBD module), nbdinfo, nbdcopy and
/// qemu-img, over a source in memory.
@Suite struct NBDServerTests {
    /// 3 MiB + 100 bytes: 1 MiB of a pattern, 1 MiB of zeros, 1 MiB of another pattern, a 100-byte tail.
    struct MemoryDisk: NBDExportSource {
        let bytes: [UInt8]
        static let block = 1 << 20
        var size: UInt64 { UInt64(bytes.count) }

        init() {
            var bytes = (0..<Self.block).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 1) }
            bytes += [UInt8](repeating: 0, count: Self.block)
            bytes += (0..<Self.block).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }
            bytes += [UInt8](repeating: 0xaa, count: 100)
            self.bytes = bytes
        }

        func isZeroBlock(_ offset: UInt64) -> Bool { offset / UInt64(Self.block) == 1 }

        func read(offset: UInt64, length: Int) throws -> [NBDPiece] {
            var pieces: [NBDPiece] = []
            var position = Int(offset)
            let end = position + length
            while position < end {
                let blockEnd = min(end, (position / Self.block + 1) * Self.block)
                if isZeroBlock(UInt64(position)) {
                    pieces.append(.zeros(blockEnd - position))
                } else {
                    pieces.append(.data(Array(bytes[position..<blockEnd])))
                }
                position = blockEnd
            }
            return pieces
        }

        func extents(offset: UInt64, length: UInt64) throws -> [NBDExtent] {
            var extents: [NBDExtent] = []
            var position = offset
            let end = min(size, offset + length)
            while position < end {
                let blockEnd = min(end, (position / UInt64(Self.block) + 1) * UInt64(Self.block))
                extents.append(NBDExtent(length: blockEnd - position, isZero: isZeroBlock(position)))
                position = blockEnd
            }
            return extents
        }
    }

    /// A source whose reads fail, as a damaged chunk would.
    struct FailingDisk: NBDExportSource {
        var size: UInt64 { 1 << 20 }
        struct Broken: Error, CustomStringConvertible { var description: String { "chunk 1234 is corrupt" } }
        func read(offset: UInt64, length: Int) throws -> [NBDPiece] { throw Broken() }
        func extents(offset: UInt64, length: UInt64) throws -> [NBDExtent] { [NBDExtent(length: length, isZero: false)] }
    }

    func withServer(_ body: (NBDServer, MemoryDisk, TemporaryDirectory) async throws -> Void) async throws {
        let folder = try TemporaryDirectory("nbd-server")
        defer { folder.cleanUp() }
        let disk = MemoryDisk()
        let server = try NBDServer(
            socketPath: folder.file("export.sock"),
            exports: try NBDExports([(name: "vda", source: disk), (name: "broken", source: FailingDisk())]))
        defer { server.stop() }
        try await body(server, disk, folder)
    }

    @Test func libnbdReadsTheBytesAndTheZeros() async throws {
        try await withServer { server, disk, _ in
            let connection = try NBDConnection(.unix(path: server.socketPath, export: "vda"), metaContexts: ["base:allocation"])
            #expect(connection.size == disk.size)
            #expect(try connection.read(offset: 0, length: 4096) == Array(disk.bytes[0..<4096]))
            // Across the data/zero/data boundaries, and the short tail.
            let start = UInt64(MemoryDisk.block - 10)
            let span = try connection.read(offset: start, length: 2 * MemoryDisk.block + 20)
            #expect(span == Array(disk.bytes[Int(start)..<Int(start) + 2 * MemoryDisk.block + 20]))
            #expect(try connection.read(offset: disk.size - 100, length: 100) == [UInt8](repeating: 0xaa, count: 100))
            let extents = try #require(try connection.blockStatus(0..<disk.size)["base:allocation"])
            #expect(extents.first?.flags == 0 && extents.first?.length == UInt64(MemoryDisk.block))
            #expect(extents.contains { $0.offset == UInt64(MemoryDisk.block) && $0.flags & 2 != 0 })
        }
    }

    @Test func badRequestsAreRefusedAndTheConnectionStays() async throws {
        try await withServer { server, disk, _ in
            let connection = try NBDConnection(.unix(path: server.socketPath, export: "vda"))
            #expect(throws: NBDError.self) { try connection.read(offset: disk.size - 10, length: 20) }
            #expect(try connection.read(offset: 0, length: 16) == Array(disk.bytes[0..<16]))
            // A read the source cannot serve is an I/O error that names the reason.
            let broken = try NBDConnection(.unix(path: server.socketPath, export: "broken"))
            do {
                _ = try broken.read(offset: 0, length: 512)
                Issue.record("a failing source read succeeded")
            } catch {
                #expect("\(error)".contains("errno 5") || "\(error)".lowercased().contains("input/output"), "\(error)")
            }
            // An export that does not exist is refused at the handshake.
            #expect(throws: NBDError.self) { try NBDConnection(.unix(path: server.socketPath, export: "vdz")) }
        }
    }

    @Test func realClientsListCopyAndCompare() async throws {
        try await withServer { server, disk, folder in
            let uri = "nbd+unix:///vda?socket=\(server.socketPath)"
            let info = try ChildProcess.run("nbdinfo", ["--json", uri])
            #expect(info.contains("\"export-size\": \(disk.size)"), "\(info)")
            #expect(info.contains("\"is_read_only\": true"), "\(info)")
            let list = try ChildProcess.run("nbdinfo", ["--list", "nbd+unix://?socket=\(server.socketPath)"])
            #expect(list.contains("vda") && list.contains("broken"), "\(list)")
            let map = try ChildProcess.run("nbdinfo", ["--map", uri])
            #expect(map.contains("hole,zero") || map.contains("3  hole"), "\(map)")

            let raw = folder.file("copy.raw")
            _ = try ChildProcess.run("nbdcopy", [uri, raw])
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw))) == disk.bytes)
            let compared = try ChildProcess.run("qemu-img", ["compare", "-f", "raw", "-F", "raw", raw, uri])
            #expect(compared.contains("identical"), "\(compared)")
            // qemu-img writes a qcow2 from it, leaving the zero megabyte unallocated.
            let qcow2 = folder.file("copy.qcow2")
            _ = try ChildProcess.run("qemu-img", ["convert", "-O", "qcow2", uri, qcow2])
            #expect(try ChildProcess.run("qemu-img", ["compare", "-F", "raw", qcow2, raw]).contains("identical"))
            // Writes are refused.
            #expect(throws: (any Error).self) {
                try ChildProcess.run("qemu-io", ["-f", "raw", "-c", "write 0 4k", uri])
            }
            #expect(server.connectionsServed >= 5)
        }
    }

    @Test func stopClosesTheSocket() async throws {
        let folder = try TemporaryDirectory("nbd-server")
        defer { folder.cleanUp() }
        let server = try NBDServer(
            socketPath: folder.file("export.sock"), exports: try NBDExports([(name: "vda", source: MemoryDisk())]))
        let connection = try NBDConnection(.unix(path: server.socketPath, export: "vda"))
        #expect(try connection.read(offset: 0, length: 8).count == 8)
        server.stop()
        #expect(!FileManager.default.fileExists(atPath: folder.file("export.sock")))
        #expect(throws: NBDError.self) { try connection.read(offset: 0, length: 8) }
        #expect(throws: NBDError.self) { try NBDConnection(.unix(path: folder.file("export.sock"), export: "vda")) }
    }

    @Test func exportsNeedUniqueNames() {
        #expect(throws: NBDServerError.self) { try NBDExports([]) }
        #expect(throws: NBDServerError.self) { try NBDExports([(name: "vda", source: MemoryDisk()), (name: "vda", source: MemoryDisk())]) }
        #expect(throws: NBDServerError.self) { try NBDExports([(name: "", source: MemoryDisk())]) }
    }
}
