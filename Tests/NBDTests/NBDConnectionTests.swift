import Foundation
import NBD
import TestSupport
import Testing

/// NBD client tests against `qemu-nbd`, a real NBD server, serving qcow2 images made with `qemu-img`/`qemu-io`.
@Suite struct NBDConnectionTests {
    static let kib: UInt64 = 1024
    static let mib: UInt64 = 1024 * 1024

    /// An 8 MiB qcow2 with 64 KiB of 0x11 at 0, then a bitmap `b0`, then writes of 0xab at 1 MiB (128 KiB) and 0xcd at
    /// 5 MiB (64 KiB) that the bitmap records.
    static func makeImage(in dir: TemporaryDirectory) throws -> String {
        let image = dir.file("disk.qcow2")
        try ChildProcess.run("qemu-img", ["create", "-q", "-f", "qcow2", image, "8M"])
        try ChildProcess.run("qemu-io", ["-f", "qcow2", "-c", "write -P 0x11 0 64k", image])
        try ChildProcess.run("qemu-img", ["bitmap", "--add", image, "b0"])
        try ChildProcess.run("qemu-io", ["-f", "qcow2", "-c", "write -P 0xab 1M 128k", "-c", "write -P 0xcd 5M 64k", image])
        return image
    }

    @Test func readsBytesAndReportsSize() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"))
        let connection = try NBDConnection(.unix(path: server.socketPath, export: server.exportName))
        #expect(connection.size == 8 * Self.mib)
        #expect(try connection.read(offset: 0, length: 65536) == [UInt8](repeating: 0x11, count: 65536))
        #expect(try connection.read(offset: Self.mib, length: 131072) == [UInt8](repeating: 0xab, count: 131072))
        // A read across a written and an unwritten area, at an odd offset.
        let mixed = try connection.read(offset: 5 * Self.mib + 65536 - 3, length: 6)
        #expect(mixed == [0xcd, 0xcd, 0xcd, 0, 0, 0])
    }

    @Test func blockStatusCoversAnyRangeExactly() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"), bitmap: "b0")
        let bitmap = MetaContext.dirtyBitmap("b0")
        let connection = try NBDConnection(
            .uri("nbd+unix:///\(server.exportName)?socket=\(server.socketPath)"),
            metaContexts: [MetaContext.baseAllocation, bitmap])
        #expect(connection.metaContexts == [MetaContext.baseAllocation, bitmap])

        let whole = try connection.blockStatus(0..<connection.size)
        let dirty = try #require(whole[bitmap]).filter(\.isDirty).map(\.range)
        #expect(dirty == [Self.mib..<(Self.mib + 128 * Self.kib), (5 * Self.mib)..<(5 * Self.mib + 64 * Self.kib)])
        let allocated = try #require(whole[MetaContext.baseAllocation]).filter { !$0.isHole }.map(\.range)
        #expect(allocated == [0..<(64 * Self.kib), Self.mib..<(Self.mib + 128 * Self.kib),
                              (5 * Self.mib)..<(5 * Self.mib + 64 * Self.kib)])
        for (_, extents) in whole {
            #expect(extents.first?.offset == 0)
            #expect(extents.last?.end == connection.size)
            #expect(zip(extents, extents.dropFirst()).allSatisfy { $0.end == $1.offset })
        }

        // A range that starts and ends inside extents is clipped to exactly that range.
        let part = (Self.mib + 1000)..<(5 * Self.mib + 10)
        let clipped = try connection.blockStatus(part)
        let dirtyPart = try #require(clipped[bitmap]).filter(\.isDirty).map(\.range)
        #expect(dirtyPart == [(Self.mib + 1000)..<(Self.mib + 128 * Self.kib), (5 * Self.mib)..<(5 * Self.mib + 10)])
        #expect(try #require(clipped[bitmap]).first?.offset == part.lowerBound)
        #expect(try #require(clipped[bitmap]).last?.end == part.upperBound)
    }

    @Test func parallelReadsOverSeveralConnections() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"))
        let export = try await NBDExport.open(
            .unix(path: server.socketPath, export: server.exportName), metaContexts: [MetaContext.baseAllocation],
            connections: 3)
        #expect(export.size == 8 * Self.mib)
        let expected: [UInt64: UInt8] = [0: 0x11, 16: 0xab, 17: 0xab, 80: 0xcd, 40: 0]
        let results = try await withThrowingTaskGroup(of: (UInt64, [UInt8]).self) { group in
            for block in expected.keys {
                group.addTask {
                    let bytes = try await export.read(offset: block * 65536, length: 65536)
                    return (block, bytes)
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (block, byte) in expected {
            #expect(results[block] == [UInt8](repeating: byte, count: 65536), "block \(block)")
        }
        let status = try await export.blockStatus(0..<export.size)
        #expect(status[MetaContext.baseAllocation]?.last?.end == export.size)
    }

    /// A read with a segment callback reports every request's bytes exactly once, where they sit in the result, and
    /// the bytes are the ones the read returns.
    @Test func aReadReportsEachSegmentAsItArrives() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"))
        let connection = try NBDConnection(.unix(path: server.socketPath, export: server.exportName))
        // 1 MiB - 3 KiB from 1 MiB - 64 KiB: the 0x11-free start, all of the 0xab write, and a short last request.
        let offset = Self.mib - 64 * Self.kib
        let length = Int(Self.mib) - 3072
        var reported: [(offset: Int, bytes: [UInt8])] = []
        let bytes = try connection.read(offset: offset, length: length) { segment, at in
            reported.append((at, Array(segment)))
        }
        #expect(bytes.count == length && bytes[65536..<(65536 + 131072)].allSatisfy { $0 == 0xab })
        #expect(reported.count > 1, "the read went out as one request; the test needs several")
        var covered = 0
        for (at, segment) in reported.sorted(by: { $0.offset < $1.offset }) {
            #expect(at == covered, "segments must tile the read without gaps or overlaps")
            #expect(segment == Array(bytes[at..<(at + segment.count)]))
            covered += segment.count
        }
        #expect(covered == length)
        let export = try await NBDExport.open(.unix(path: server.socketPath, export: server.exportName))
        // Called on the export's connection thread, one segment after another; read once the read has returned.
        final class Count: @unchecked Sendable { var bytes = 0 }
        let count = Count()
        let viaExport = try await export.read(offset: offset, length: length) { segment, _ in count.bytes += segment.count }
        #expect(viaExport == bytes && count.bytes == length)
    }

    @Test func connectsOverTCP() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let port = Int.random(in: 20_000..<40_000)
        let endpoint = NBDEndpoint.tcp(host: "127.0.0.1", port: port, export: "disk")
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), tcpPort: port) {
            _ = try NBDConnection(endpoint)
        }
        let connection = try NBDConnection(endpoint, metaContexts: [MetaContext.baseAllocation])
        #expect(try connection.read(offset: 5 * Self.mib, length: 4) == [0xcd, 0xcd, 0xcd, 0xcd])
        #expect(try connection.blockStatus(0..<connection.size)[MetaContext.baseAllocation]?.last?.end == 8 * Self.mib)
        server.kill()
    }

    @Test func missingSocketIsATypedError() throws {
        let error = #expect(throws: NBDError.self) {
            try NBDConnection(.unix(path: "/nonexistent/bulwark.sock", export: "x"))
        }
        #expect(error?.operation == "nbd_connect")
        #expect(error?.code == .notFound)
        #expect(error?.description.contains("/nonexistent/bulwark.sock") == true)
    }

    @Test func unknownExportAndMetaContextAreTypedErrors() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"))
        let wrongExport = #expect(throws: NBDError.self) {
            try NBDConnection(.unix(path: server.socketPath, export: "no-such-export"))
        }
        #expect(wrongExport?.message.isEmpty == false)
        // qemu-nbd was started without --bitmap: asking for a bitmap context must fail, not return nothing.
        let noBitmap = #expect(throws: NBDError.self) {
            try NBDConnection(
                .unix(path: server.socketPath, export: server.exportName),
                metaContexts: [MetaContext.dirtyBitmap("b0")])
        }
        #expect(noBitmap?.code == .notSupported)
        let connection = try NBDConnection(.unix(path: server.socketPath, export: server.exportName))
        #expect(throws: NBDError.self) { try connection.blockStatus(0..<1024) }
        let pastEnd = #expect(throws: NBDError.self) {
            _ = try NBDConnection(
                .unix(path: server.socketPath, export: server.exportName), metaContexts: [MetaContext.baseAllocation]
            ).blockStatus(0..<(connection.size + 1))
        }
        #expect(pastEnd?.code == .invalidArgument)
    }

    @Test func exportThatDisappearsMidReadIsATypedError() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.cleanUp() }
        let server = try await QemuNBDServer(image: try Self.makeImage(in: dir), socketPath: dir.file("s.sock"))
        let connection = try NBDConnection(
            .unix(path: server.socketPath, export: server.exportName), metaContexts: [MetaContext.baseAllocation])
        #expect(try connection.read(offset: 0, length: 4096).first == 0x11)
        let segmented = try NBDConnection(.unix(path: server.socketPath, export: server.exportName))
        server.kill()
        let readError = #expect(throws: NBDError.self) { try connection.read(offset: 0, length: 4096) }
        #expect(readError?.operation == "nbd_pread")
        #expect(readError?.code.isDisconnect == true, "\(String(describing: readError))")
        // A read that reports its segments fails the same way, and reports none of a read that did not happen.
        var reported = 0
        let segmentedError = #expect(throws: NBDError.self) {
            try segmented.read(offset: 0, length: 1 << 20) { _, _ in reported += 1 }
        }
        #expect(segmentedError?.code.isDisconnect == true, "\(String(describing: segmentedError))")
        #expect(reported == 0)
        #expect(throws: NBDError.self) { try connection.blockStatus(0..<4096) }
    }
}
