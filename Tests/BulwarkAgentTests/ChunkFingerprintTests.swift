import BulwarkAgent
import BulwarkStore
import Foundation
import TestSupport
import Testing

/// Chunk fingerprints and their memo: a fingerprint changes with any byte of the chunk, a memo gives a digest only
/// for the fingerprint it recorded, and a memo file that is damaged, torn or for other chunks is dropped, not believed.
@Suite struct ChunkFingerprintTests {
    static let chunkSize = 1 << 20

    static func chunk(_ seed: UInt8) -> [UInt8] {
        (0..<chunkSize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    @Test func aFingerprintChangesWithAnyByteAndWithTheKey() throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let key = try ChunkFingerprints.open(directory: directory.file("a")).key
        let other = try ChunkFingerprints.open(directory: directory.file("b")).key
        let bytes = Self.chunk(1)
        let print = key.fingerprint(of: bytes)
        #expect(key.fingerprint(of: bytes) == print)
        #expect(other.fingerprint(of: bytes) != print)
        for offset in [0, Self.chunkSize / 2, Self.chunkSize - 1] {
            var changed = bytes
            changed[offset] ^= 0x01
            #expect(key.fingerprint(of: changed) != print, "a flipped bit at \(offset) went unnoticed")
        }
        // The length counts too: a zero byte more or less is another chunk.
        #expect(key.fingerprint(of: bytes + [0]) != print)
        #expect(key.fingerprint(of: Array(bytes.dropLast())) != print)
        // Two chunks that differ only in where their bytes sit.
        #expect(key.fingerprint(of: Array(bytes[1...]) + [bytes[0]]) != print)
    }

    /// A fingerprint built from pieces as a read reports them (in any order, in segments of any size) is the
    /// fingerprint of the whole chunk; moving a piece elsewhere in the chunk changes it.
    @Test func aFingerprintBuiltPieceByPieceIsTheChunksFingerprint() throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let key = try ChunkFingerprints.open(directory: directory.path).key
        let piece = FingerprintKey.pieceSize
        // Four whole pieces, and a short last piece after three.
        for bytes in [Self.chunk(5), Array(Self.chunk(6)[..<(3 * piece + 1000)])] {
            let expected = key.fingerprint(of: bytes)
            for segment in [piece, 2 * piece, piece / 4, 3 * piece / 2] {
                var offsets = Array(stride(from: 0, to: bytes.count, by: segment))
                for order in ["forward", "reversed", "shuffled"] {
                    if order == "reversed" { offsets.reverse() }
                    if order == "shuffled" { offsets.shuffle() }
                    let pieces = PiecewiseFingerprint(key: key, length: bytes.count)
                    bytes.withUnsafeBytes { raw in
                        for offset in offsets {
                            pieces.add(UnsafeRawBufferPointer(rebasing: raw[offset..<min(offset + segment, raw.count)]), at: offset)
                        }
                    }
                    #expect(pieces.fingerprint(of: bytes) == expected, "segments of \(segment) bytes, \(order)")
                }
            }
            // Nothing reported at all: every piece is tagged at the end.
            #expect(PiecewiseFingerprint(key: key, length: bytes.count).fingerprint(of: bytes) == expected)
        }
        // Random bytes, so that no two pieces are alike (the pattern of chunk(_:) repeats within a piece).
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<Self.chunkSize).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let swapped = Array(bytes[piece..<(2 * piece)]) + Array(bytes[..<piece]) + Array(bytes[(2 * piece)...])
        #expect(swapped.count == bytes.count && swapped[0..<piece] != bytes[0..<piece])
        #expect(key.fingerprint(of: swapped) != key.fingerprint(of: bytes), "two pieces swapped went unnoticed")
    }

    @Test func theKeyIsMadeOncePrivateAndAGarbledOneIsReplaced() throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let folder = directory.file("state/fingerprints")
        let first = try ChunkFingerprints.open(directory: folder)
        #expect(try AgentIdentityTests.mode(folder) == 0o700)
        #expect(try AgentIdentityTests.mode("\(folder)/key") == 0o600)
        let bytes = Self.chunk(2)
        #expect(try ChunkFingerprints.open(directory: folder).key.fingerprint(of: bytes) == first.key.fingerprint(of: bytes))
        try Data(repeating: 0, count: 32).write(to: URL(fileURLWithPath: "\(folder)/key"))
        let replaced = try ChunkFingerprints.open(directory: folder)
        #expect(replaced.key.fingerprint(of: bytes) != first.key.fingerprint(of: bytes))
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(folder)/key")) != Data(repeating: 0, count: 32))
    }

    @Test func aMemoGivesADigestOnlyForTheFingerprintItRecorded() throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let key = try ChunkFingerprints.open(directory: directory.path).key
        let bytes = Self.chunk(3)
        var memo = FingerprintMemo(chunkSize: Self.chunkSize, count: 4)
        memo[1] = .init(digest: .of(bytes), fingerprint: key.fingerprint(of: bytes))
        #expect(memo.digest(ofChunk: 1, fingerprint: key.fingerprint(of: bytes)) == .of(bytes))
        #expect(memo.digest(ofChunk: 1, fingerprint: key.fingerprint(of: Self.chunk(4))) == nil)
        #expect(memo.digest(ofChunk: 0, fingerprint: key.fingerprint(of: bytes)) == nil)
        #expect(memo.digest(ofChunk: 9, fingerprint: key.fingerprint(of: bytes)) == nil)
        #expect(memo.knownCount == 1)

        let decoded = try FingerprintMemo(decoding: memo.encoded(), chunkSize: Self.chunkSize)
        #expect(decoded == memo)
    }

    @Test func aDamagedTornOrForeignMemoIsRefusedWithTheReason() throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let key = try ChunkFingerprints.open(directory: directory.path).key
        var memo = FingerprintMemo(chunkSize: Self.chunkSize, count: 3)
        for index in 0..<3 {
            let bytes = Self.chunk(UInt8(index))
            memo[index] = .init(digest: .of(bytes), fingerprint: key.fingerprint(of: bytes))
        }
        let encoded = memo.encoded()
        func refusal(_ bytes: [UInt8], chunkSize: Int = Self.chunkSize) -> String {
            do {
                _ = try FingerprintMemo(decoding: bytes, chunkSize: chunkSize)
                return "accepted"
            } catch {
                return error.message
            }
        }
        // A digest byte flipped: believing it would put a wrong name in the index.
        var flipped = encoded
        flipped[24 + 48 + 5] ^= 0x40
        #expect(refusal(flipped).contains("checksum"))
        #expect(refusal(Array(encoded.dropLast(10))).contains("checksum"))
        #expect(refusal(Array(encoded.prefix(20))).contains("too short"))
        #expect(refusal(Array(repeating: 0, count: 200)).contains("magic"))
        #expect(refusal(encoded, chunkSize: 4 << 20).contains("chunks of 1048576 bytes"))
    }

    /// A fingerprint folder in `directory` with a memo kept for disk vda of a new VM: `count` chunks, the first known.
    static func savedMemo(
        in directory: TemporaryDirectory, seed: UInt8, count: Int
    ) async throws -> (fingerprints: ChunkFingerprints, vm: UUID, memo: FingerprintMemo) {
        let fingerprints = try ChunkFingerprints.open(directory: directory.path)
        let vm = UUID()
        let bytes = chunk(seed)
        var memo = FingerprintMemo(chunkSize: chunkSize, count: count)
        memo[0] = .init(digest: .of(bytes), fingerprint: fingerprints.key.fingerprint(of: bytes))
        try await fingerprints.save(memo, vm: vm, disk: "vda")
        return (fingerprints, vm, memo)
    }

    @Test func memosAreKeptPerVMAndDiskAndADamagedFileIsDropped() async throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let (fingerprints, vm, memo) = try await Self.savedMemo(in: directory, seed: 5, count: 2)

        let loaded = await fingerprints.memo(vm: vm, disk: "vda", chunkSize: Self.chunkSize, count: 2)
        #expect(loaded.memo == memo && loaded.problem == nil)
        // Another disk, another VM: nothing known.
        #expect(await fingerprints.memo(vm: vm, disk: "vdb", chunkSize: Self.chunkSize, count: 2).memo.knownCount == 0)
        #expect(await fingerprints.memo(vm: UUID(), disk: "vda", chunkSize: Self.chunkSize, count: 2).memo.knownCount == 0)
        // The disk grew to 5 chunks: the first is still known.
        let grown = await fingerprints.memo(vm: vm, disk: "vda", chunkSize: Self.chunkSize, count: 5).memo
        #expect(grown.count == 5 && grown[0] == memo[0] && grown.knownCount == 1)
        // A name that is not a device name stays inside the folder.
        try await fingerprints.save(memo, vm: vm, disk: "../../escape")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.file(vm.uuidString.lowercased()))
        #expect(files.count == 2 && !files.contains { $0.contains("/") || $0.hasPrefix(".") }, "\(files)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("escape.memo")))

        let path = directory.file("\(vm.uuidString.lowercased())/vda.memo")
        var damaged = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        damaged[30] ^= 0xff
        try Data(damaged).write(to: URL(fileURLWithPath: path))
        let dropped = await fingerprints.memo(vm: vm, disk: "vda", chunkSize: Self.chunkSize, count: 2)
        #expect(dropped.memo.knownCount == 0)
        #expect(dropped.problem?.contains(path) == true && dropped.problem?.contains("checksum") == true)
    }

    /// After an upgrade a disk's memo is an older version's, whose fingerprints were made another way: nothing is
    /// known and nothing is wrong (no warning on every VM's next sync). A newer version's is reported like damage.
    @Test func aMemoOfAnOlderVersionIsUnknownNotAProblem() async throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let (fingerprints, vm, _) = try await Self.savedMemo(in: directory, seed: 8, count: 1)
        let path = directory.file("\(vm.uuidString.lowercased())/vda.memo")
        let saved = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(saved[8] == 2, "the memo's version is 2")
        // The same memo as version 1 and as version 3, each with a checksum that matches.
        for version: UInt8 in [1, 3] {
            var other = Array(saved.dropLast(32))
            other[8] = version
            other += ChunkDigest.of(other).bytes
            try Data(other).write(to: URL(fileURLWithPath: path))
            let loaded = await fingerprints.memo(vm: vm, disk: "vda", chunkSize: Self.chunkSize, count: 1)
            #expect(loaded.memo.knownCount == 0, "version \(version)")
            if version == 1 {
                #expect(loaded.problem == nil, "\(loaded.problem ?? "")")
            } else {
                #expect(loaded.problem?.contains("memo version 3 is not 2") == true, "\(loaded.problem ?? "")")
            }
        }
    }

    /// A fingerprint folder that cannot be made, or a memo that cannot be written, is an error naming the path: the
    /// agent then logs it and hashes every chunk, and a sync whose memo cannot be kept still has its point.
    @Test func aFolderOrMemoThatCannotBeWrittenIsAnErrorNamingIt() async throws {
        let directory = try TemporaryDirectory("fingerprints")
        defer { directory.cleanUp() }
        let file = directory.file("not-a-folder")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(throws: AgentError.self) { try ChunkFingerprints.open(directory: "\(file)/fingerprints") }
        do {
            _ = try ChunkFingerprints.open(directory: "\(file)/fingerprints")
        } catch {
            #expect(error.message.contains("\(file)/fingerprints"), "\(error)")
        }

        let fingerprints = try ChunkFingerprints.open(directory: directory.file("ok"))
        let vm = UUID()
        // The VM's folder is taken by a file: the memo cannot be written there.
        try Data("x".utf8).write(to: URL(fileURLWithPath: directory.file("ok/\(vm.uuidString.lowercased())")))
        let memo = FingerprintMemo(chunkSize: Self.chunkSize, count: 1)
        await #expect(throws: AgentError.self) { try await fingerprints.save(memo, vm: vm, disk: "vda") }
        do {
            try await fingerprints.save(memo, vm: vm, disk: "vda")
        } catch {
            #expect(error.message.contains(vm.uuidString.lowercased()), "\(error)")
        }
        // Reading it back finds nothing and says nothing is wrong: there is no memo.
        let loaded = await fingerprints.memo(vm: vm, disk: "vda", chunkSize: Self.chunkSize, count: 1)
        #expect(loaded.memo.knownCount == 0)
    }
}
