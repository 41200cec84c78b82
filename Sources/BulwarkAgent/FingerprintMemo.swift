internal import Crypto
public import ChunkFormat
import Foundation

/// What a sync learnt about one disk: for each chunk it read, the SHA-256 it computed and the bytes' fingerprint.
///
/// The next sync of the disk that reads the chunk again (a consistency check, a full after a lost chain) takes the
/// digest from here when the fingerprint of what it reads now is the same, instead of hashing the chunk with
/// SHA-256. Entries describe content, not points: one is right for whatever bytes have its fingerprint, so a memo
/// from a sync that never committed, or from an older point, still gives only true digests. A chunk the memo does
/// not know, or whose bytes changed, is hashed as before.
public struct FingerprintMemo: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var digest: ChunkDigest
        public var fingerprint: ChunkFingerprint

        public init(digest: ChunkDigest, fingerprint: ChunkFingerprint) {
            self.digest = digest
            self.fingerprint = fingerprint
        }
    }

    public let chunkSize: Int
    private(set) var entries: [Entry?]

    /// An empty memo for a disk of `count` chunks.
    public init(chunkSize: Int, count: Int) {
        self.chunkSize = chunkSize
        entries = Array(repeating: nil, count: count)
    }

    public var count: Int { entries.count }

    /// The digest of chunk `index` when its bytes have `fingerprint`; `nil` when the memo cannot say.
    public func digest(ofChunk index: Int, fingerprint: ChunkFingerprint) -> ChunkDigest? {
        guard entries.indices.contains(index), let entry = entries[index], entry.fingerprint == fingerprint else {
            return nil
        }
        return entry.digest
    }

    public subscript(index: Int) -> Entry? {
        get { entries.indices.contains(index) ? entries[index] : nil }
        set {
            guard entries.indices.contains(index) else { return }
            entries[index] = newValue
        }
    }

    /// How many chunks the memo knows.
    public var knownCount: Int { entries.count { $0 != nil } }
}

extension FingerprintMemo {
    static let magic = Array("BWFPMEMO".utf8)
    /// 2: fingerprints are tags over 256 KiB pieces (``FingerprintKey/pieceSize``); 1 tagged whole chunks.
    static let version: UInt32 = 2
    static let headerLength = 24
    static let entryLength = ChunkDigest.byteCount + ChunkFingerprint.byteCount

    /// Whether `bytes` are a memo an older agent wrote, whose fingerprints were made another way: not damage, only
    /// nothing this agent can use.
    static func isOlderVersion(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= headerLength, Array(bytes[0..<8]) == magic else { return false }
        let version = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        return version < Self.version
    }

    /// The file: magic, version, chunk size, chunk count, the entries (an unknown one is all zeros), and the SHA-256
    /// of everything before it, so that a torn or damaged file is noticed and dropped rather than believed.
    public func encoded() -> [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerLength + entries.count * Self.entryLength + 32)
        withUnsafeBytes(of: Self.version.littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt32(chunkSize).littleEndian) { bytes += $0 }
        withUnsafeBytes(of: UInt64(entries.count).littleEndian) { bytes += $0 }
        let none = [UInt8](repeating: 0, count: Self.entryLength)
        for entry in entries {
            if let entry {
                bytes += entry.digest.bytes
                bytes += entry.fingerprint.bytes
            } else {
                bytes += none
            }
        }
        bytes += Array(SHA256.hash(data: bytes))
        return bytes
    }

    /// Decodes a memo file, saying what is wrong with one that is not a whole memo of the expected chunk size.
    public init(decoding bytes: [UInt8], chunkSize expected: Int) throws(AgentError) {
        guard bytes.count >= Self.headerLength + 32, Array(bytes[0..<8]) == Self.magic else {
            throw AgentError(.local, "not a fingerprint memo (bad magic or too short)")
        }
        let body = bytes[0..<(bytes.count - 32)]
        guard Array(SHA256.hash(data: body)) == Array(bytes[(bytes.count - 32)...]) else {
            throw AgentError(.local, "the memo's checksum does not match (torn or damaged file)")
        }
        let (version, size, count) = bytes.withUnsafeBytes { raw in
            (
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)),
                Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 12, as: UInt32.self))),
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            )
        }
        guard version == Self.version else { throw AgentError(.local, "memo version \(version) is not \(Self.version)") }
        guard size == expected else {
            throw AgentError(.local, "the memo is for chunks of \(size) bytes, the datastore's are \(expected)")
        }
        guard count <= UInt64(Int.max / Self.entryLength),
            body.count == Self.headerLength + Int(count) * Self.entryLength
        else {
            throw AgentError(.local, "the memo says \(count) chunks but holds \(body.count) bytes")
        }
        self.init(chunkSize: size, count: Int(count))
        bytes.withUnsafeBytes { raw in
            for index in 0..<Int(count) {
                let offset = Self.headerLength + index * Self.entryLength
                let entry = UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + Self.entryLength)])
                guard entry.contains(where: { $0 != 0 }) else { continue }
                entries[index] = Entry(
                    digest: ChunkDigest(bytes: entry[0..<ChunkDigest.byteCount])!,
                    fingerprint: ChunkFingerprint(loading: UnsafeRawBufferPointer(rebasing: entry[ChunkDigest.byteCount...])))
            }
        }
    }
}

extension FingerprintMemo {
    /// Fits the memo to a disk of `count` chunks: a grown disk's new chunks are unknown, a shrunk one's are dropped.
    mutating func resize(to count: Int) {
        if count < entries.count {
            entries.removeLast(entries.count - count)
        } else {
            entries += Array(repeating: nil, count: count - entries.count)
        }
    }
}
