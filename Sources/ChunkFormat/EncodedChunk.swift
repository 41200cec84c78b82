/// A chunk encoded exactly as a datastore stores it, so an agent can hash and compress on its own host and send
/// the file the server writes as it is (see ``Datastore/writeEncodedChunk(_:digest:)``).
public struct EncodedChunk: Hashable, Sendable {
    /// SHA-256 of the plain bytes: the chunk's name, and what an index records.
    public var digest: ChunkDigest
    /// The whole chunk file (``ChunkFile`` header and payload); empty for a zero chunk, which is never stored.
    public var bytes: [UInt8]
    /// The number of plain bytes.
    public var plainLength: Int
    /// A full chunk of zeros: ``digest`` is the datastore's zero digest and there is nothing to send.
    public var isZero: Bool

    public init(digest: ChunkDigest, bytes: [UInt8], plainLength: Int, isZero: Bool) {
        self.digest = digest
        self.bytes = bytes
        self.plainLength = plainLength
        self.isZero = isZero
    }

    /// Hashes and compresses `plain` (zstd level 1, raw when that does not shrink it), as
    /// ``Datastore/writeChunk(_:expecting:)`` would store it.
    ///
    /// `plain` should hold 1 to `chunkSize` bytes (only a disk's last chunk is short); the datastore refuses other
    /// sizes when the file is written.
    public static func encode(_ plain: [UInt8], chunkSize: Int) -> EncodedChunk {
        let name = digest(of: plain, chunkSize: chunkSize, zeroDigest: .zero(chunkSize: chunkSize))
        if name.isZero { return EncodedChunk(digest: name.digest, bytes: [], plainLength: plain.count, isZero: true) }
        return encode(plain, digest: name.digest)
    }

    /// The name of `plain` in a datastore: `zeroDigest` for a full chunk of zeros (found without hashing, and
    /// stopping at the first byte that is not zero), its SHA-256 otherwise.
    public static func digest(
        of plain: [UInt8], chunkSize: Int, zeroDigest: ChunkDigest
    ) -> (digest: ChunkDigest, isZero: Bool) {
        if plain.count == chunkSize, isAllZero(plain) { return (zeroDigest, true) }
        return (ChunkDigest.of(plain), false)
    }

    /// Compresses `plain`, whose digest the caller computed: a sync hashes every chunk it reads but compresses only
    /// those the datastore lacks. The server checks the digest again before it stores anything.
    public static func encode(_ plain: [UInt8], digest: ChunkDigest) -> EncodedChunk {
        EncodedChunk(digest: digest, bytes: ChunkFile.encoding(plain).bytes, plainLength: plain.count, isZero: false)
    }

    /// The chunk file for `plain`, whose digest the caller computed, as its header and payload apart: a raw
    /// payload is `plain` itself, so a sender can copy both straight into its own buffer, the one copy it makes.
    public static func file(of plain: [UInt8]) -> (header: [UInt8], payload: [UInt8]) {
        let file = ChunkFile.encoding(plain)
        return (file.headerBytes, file.payload)
    }

    /// The plain bytes of a chunk file received from a datastore, after checking its CRC-32, decompressing and
    /// checking its SHA-256 against `digest`: what a restore writes is exactly what was backed up.
    ///
    /// A raw payload is returned where it lies in `bytes`, not copied out.
    public static func decode(
        _ bytes: [UInt8], digest: ChunkDigest, chunkSize: Int
    ) throws(DatastoreError) -> ArraySlice<UInt8> {
        try ChunkFile.plain(of: bytes, digest: digest, path: "chunk \(digest) from the server", maximumLength: chunkSize)
    }

    /// Whether every byte is zero; stops at the first that is not, so random data costs next to nothing.
    public static func isAllZero(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { buffer in
            let words = buffer.count / 8
            for index in 0..<words where buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self) != 0 {
                return false
            }
            for index in (words * 8)..<buffer.count where buffer[index] != 0 { return false }
            return true
        }
    }
}
