import Foundation
import GuestFiles
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The frames a sandboxed guest file reader sends are checked before they are used: lengths, kinds, names,
/// link targets and messages are bounded, whatever the helper says.
@Suite struct GuestReaderWireTests {
    @Test func framesOverTheirKindsLimitOrOfUnknownKindAreRefused() throws {
        let header = GuestReaderWire.header(.piece, length: GuestReaderWire.maximumPiece)
        let (kind, length) = try GuestReaderWire.parseHeader(header)
        #expect(kind == .piece && length == GuestReaderWire.maximumPiece)
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.parseHeader(GuestReaderWire.header(.piece, length: GuestReaderWire.maximumPiece + 1)) }
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.parseHeader([0x51, 0xff, 0xff, 0xff, 0xff]) }
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.parseHeader(GuestReaderWire.header(.end, length: 1)) }
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.parseHeader([0x00, 0, 0, 0, 0]) }
    }

    @Test func aFrameClaimingGigabytesIsRefusedBeforeItIsRead() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let header: [UInt8] = [GuestReaderWire.Kind.answer.rawValue, 0x7f, 0xff, 0xff, 0xff]
        #expect(header.withUnsafeBytes { write(ends[1], $0.baseAddress, $0.count) } == 5)
        let channel = GuestReaderChannel(input: ends[0], output: ends[1])
        #expect(throws: GuestFilesError.self) { _ = try channel.receive() }
        // A frame within its limit comes through whole.
        #expect(channel.send(.answer, Array("[]".utf8)))
        let frame = try #require(try channel.receive())
        #expect(frame.0 == .answer && frame.1 == Array("[]".utf8))
    }

    static func entry(_ name: String, target: String? = nil) -> GuestEntry {
        GuestEntry(
            name: name, kind: target == nil ? .file : .symlink, size: 1, mode: 0o644, modified: .distantPast,
            accessed: .distantPast, target: target)
    }

    @Test(arguments: ["", ".", "..", "a/b", "../../etc", "nul\0byte", String(repeating: "x", count: 2000)])
    func entriesWithNamesNoFileSystemHoldsAreRefused(name: String) throws {
        let payload = [UInt8](try JSONEncoder().encode([Self.entry("fine"), Self.entry(name)]))
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.entries(payload) }
    }

    @Test func linkTargetsAndMessagesAreBounded() throws {
        let long = [UInt8](try JSONEncoder().encode(Self.entry("link", target: String(repeating: "a", count: 5000))))
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.entry(long) }
        let fine = [UInt8](try JSONEncoder().encode(Self.entry("link", target: "../hello.txt")))
        #expect(try GuestReaderWire.entry(fine).target == "../hello.txt")
        #expect(throws: GuestFilesError.self) { try GuestReaderWire.entries(Array("not json".utf8)) }

        let failure = GuestReaderWire.failure(
            [UInt8](try JSONEncoder().encode(["code": "root-please", "message": String(repeating: "m", count: 100_000)])))
        #expect(failure.code == .corrupt && failure.message.count == GuestReaderWire.maximumMessage)
        #expect(GuestReaderWire.failure(Array("garbage".utf8)).code == .corrupt)
        let notFound = GuestReaderWire.failure([UInt8](try JSONEncoder().encode(GuestReaderFailure(GuestFilesError(.notFound, "no such file")))))
        #expect(notFound.code == .notFound && notFound.message == "no such file")
        // A reader may not claim the parent's own failure codes (the target folder).
        let target = GuestReaderWire.failure([UInt8](try JSONEncoder().encode(GuestReaderFailure(GuestFilesError(.target, "disk full")))))
        #expect(target.code == .corrupt)
    }

    @Test func requestsRoundTrip() throws {
        for request in [GuestReaderRequest.list("/vda1/etc"), .entry("/"), .read("/vdb1/a b")] {
            #expect(try GuestReaderWire.request(GuestReaderWire.encode(request)) == request)
        }
    }
}
