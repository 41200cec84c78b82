internal import Crypto
import Foundation

/// A keyed fingerprint of a chunk's bytes: the GMAC tag (AES-GCM's authenticator over the chunk, nothing encrypted)
/// under this agent's secret key.
///
/// It lets a sync recognise a chunk it has hashed before without computing its SHA-256 again: GHASH runs about ten
/// times faster than SHA-256 here. It is not a name in the datastore and never leaves the host. GHASH under a key
/// the guest cannot see is a universal hash: two different 4 MiB chunks share a tag with a chance below 2⁻¹¹⁰,
/// whatever the guest chooses to write, so a guest cannot make a changed chunk pass for the one it replaced.
public struct ChunkFingerprint: Hashable, Sendable, CustomStringConvertible {
    var high: UInt64
    var low: UInt64

    /// The number of bytes in a fingerprint.
    public static let byteCount = 16

    init(loading buffer: UnsafeRawBufferPointer) {
        high = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        low = UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    }

    public var bytes: [UInt8] {
        withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init)
    }

    public var description: String { bytes.map { String(format: "%02x", $0) }.joined() }
}

/// The agent's secret for chunk fingerprints: an AES-128 key and a nonce, made once and kept in the state directory
/// (mode 0600).
///
/// Replacing it only makes the fingerprints already kept useless: the next sync of each disk hashes everything with
/// SHA-256 again, as if none had been kept.
public struct FingerprintKey: Sendable {
    // Crypto's key and nonce types are not Sendable; they are made from these bytes for each chunk, which costs
    // nothing next to hashing 4 MiB.
    private let keyBytes: [UInt8]
    private let nonceBytes: [UInt8]

    /// The file's length: 16 bytes of key, 12 of nonce, 4 reserved.
    static let fileLength = 32

    /// A key from its file's bytes; `nil` when they are not a key file's.
    init?(fileBytes bytes: [UInt8]) {
        guard bytes.count == Self.fileLength, bytes[0..<28].contains(where: { $0 != 0 }) else { return nil }
        keyBytes = Array(bytes[0..<16])
        nonceBytes = Array(bytes[16..<28])
    }

    /// A new random key.
    static func random() -> (key: FingerprintKey, fileBytes: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<28).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes += [0, 0, 0, 0]
        // 28 random bytes all zero do not happen; the guard in init?(fileBytes:) only rejects a zeroed file.
        return (FingerprintKey(fileBytes: bytes)!, bytes)
    }

    /// The bytes each piece tag covers: a chunk's fingerprint is a tag over the tags of its 256 KiB pieces, so
    /// that each piece can be tagged the moment it arrives from NBD (whose reads are cut into requests of the same
    /// size), while it is still in the CPU's cache.
    public static let pieceSize = 256 << 10

    /// The fingerprint of `bytes`.
    public func fingerprint(of bytes: [UInt8]) -> ChunkFingerprint {
        bytes.withUnsafeBytes { raw in
            combine(
                stride(from: 0, to: raw.count, by: Self.pieceSize).map { start in
                    pieceTag(UnsafeRawBufferPointer(rebasing: raw[start..<min(start + Self.pieceSize, raw.count)]))
                })
        }
    }

    /// The tag of one piece of a chunk.
    func pieceTag(_ piece: UnsafeRawBufferPointer) -> ChunkFingerprint {
        tag(authenticating: piece, nonce: nonceBytes)
    }

    /// The chunk's fingerprint from the tags of its pieces, in order: a tag over their concatenation, under another
    /// nonce than the pieces'.
    ///
    /// Two different chunks of the same length share a fingerprint only if a piece's tag or the tag of the list
    /// collides, each a GHASH collision under a key the guest cannot see: below 2⁻¹¹⁰ for 4 MiB chunks, as for one
    /// tag over the whole chunk. Tagging the list, not adding the tags up, keeps the pieces' order in it: swapped
    /// pieces make another fingerprint.
    func combine(_ tags: [ChunkFingerprint]) -> ChunkFingerprint {
        var list: [UInt8] = []
        list.reserveCapacity(tags.count * ChunkFingerprint.byteCount)
        for tag in tags { list += tag.bytes }
        var nonce = nonceBytes
        nonce[0] ^= 0x80
        return list.withUnsafeBytes { tag(authenticating: $0, nonce: nonce) }
    }

    private func tag(authenticating bytes: UnsafeRawBufferPointer, nonce nonceBytes: [UInt8]) -> ChunkFingerprint {
        // Sealing nothing with `bytes` as authenticated data: the tag is GHASH of the bytes (and their length) under
        // the key, masked with the encrypted nonce. A fixed nonce would let someone who reads many tags work out
        // the key; the tags stay in the agent's state directory, which only root reads, never in the guest's reach.
        do {
            let key = SymmetricKey(data: keyBytes)
            let nonce = try AES.GCM.Nonce(data: nonceBytes)
            let tag = try AES.GCM.seal([UInt8](), using: key, nonce: nonce, authenticating: bytes).tag
            return tag.withUnsafeBytes { ChunkFingerprint(loading: $0) }
        } catch {
            // Sealing fails only for a key or nonce of the wrong size, which init?(fileBytes:) rules out.
            preconditionFailure("AES-GCM refused a valid key: \(error)")
        }
    }
}

/// A chunk's fingerprint built piece by piece as its bytes arrive, in any order (see ``FingerprintKey/pieceSize``).
///
/// Pieces are added from the thread that reads the chunk, and the fingerprint is taken once the read has returned:
/// the read's completion orders the two, so the class needs no lock of its own.
public final class PiecewiseFingerprint: @unchecked Sendable {
    public let key: FingerprintKey
    public let length: Int
    private var tags: [ChunkFingerprint?]

    public init(key: FingerprintKey, length: Int) {
        self.key = key
        self.length = length
        tags = Array(repeating: nil, count: (length + FingerprintKey.pieceSize - 1) / FingerprintKey.pieceSize)
    }

    /// Tags every whole piece within `bytes`, which were read at `offset` in the chunk.
    public func add(_ bytes: UnsafeRawBufferPointer, at offset: Int) {
        let size = FingerprintKey.pieceSize
        var start = (offset + size - 1) / size * size
        while start < offset + bytes.count, tags.indices.contains(start / size) {
            let end = min(start + size, offset + bytes.count)
            guard end - start == size || end == length else { break }
            tags[start / size] = key.pieceTag(UnsafeRawBufferPointer(rebasing: bytes[(start - offset)..<(end - offset)]))
            start += size
        }
    }

    /// The chunk's fingerprint; pieces no read reported whole are tagged from `chunk` now.
    public func fingerprint(of chunk: [UInt8]) -> ChunkFingerprint {
        let size = FingerprintKey.pieceSize
        return chunk.withUnsafeBytes { raw in
            key.combine(
                tags.indices.map { index in
                    tags[index] ?? key.pieceTag(
                        UnsafeRawBufferPointer(rebasing: raw[(index * size)..<min((index + 1) * size, raw.count)]))
                })
        }
    }
}
