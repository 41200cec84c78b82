internal import Crypto

/// One disk of a recovery point: the digest of every chunk, in order.
///
/// A fixed index is a logical full copy of the disk: chunk `i` covers bytes `i * chunkSize ..< (i + 1) *
/// chunkSize`, the last chunk may be short (the logical size decides), and a chunk of zeros is recorded as the
/// datastore's ``Datastore/zeroDigest``. A new index starts all zeros (a blank disk of that size); an incremental
/// sync copies the previous point's index and overwrites the chunks that changed.
///
/// File form (`<target>.fidx`), little-endian:
///
/// ```
/// offset  size  field
///      0     4  magic "BWIX"
///      4     2  format version (1)
///      6     2  reserved, 0
///      8     4  chunk size
///     12     4  reserved, 0
///     16     8  logical size of the disk in bytes
///     24     8  chunk count
///     32    32  SHA-256 of the digest table
///     64  32×n  digest table
/// ```
public struct FixedIndex: Hashable, Sendable {
    package static let magic: [UInt8] = Array("BWIX".utf8)
    package static let version: UInt16 = 1
    package static let headerSize = 64

    /// Plain bytes per chunk; must equal the datastore's.
    public let chunkSize: Int
    /// The disk's size in bytes.
    public let logicalSize: UInt64
    /// One digest per chunk.
    public private(set) var digests: [ChunkDigest]

    /// An index of a disk of `logicalSize` bytes whose chunks are all zeros until set.
    public init(chunkSize: Int, logicalSize: UInt64) throws(DatastoreError) {
        try DatastoreConfiguration.validate(chunkSize: chunkSize)
        let count = Self.chunkCount(logicalSize: logicalSize, chunkSize: chunkSize)
        self.chunkSize = chunkSize
        self.logicalSize = logicalSize
        digests = Array(repeating: .zero(chunkSize: chunkSize), count: count)
    }

    /// An index with the given digests, which must number exactly `⌈logicalSize / chunkSize⌉`.
    public init(chunkSize: Int, logicalSize: UInt64, digests: [ChunkDigest]) throws(DatastoreError) {
        try DatastoreConfiguration.validate(chunkSize: chunkSize)
        let count = Self.chunkCount(logicalSize: logicalSize, chunkSize: chunkSize)
        guard digests.count == count else {
            throw DatastoreError(
                .invalidArgument,
                "a disk of \(logicalSize) bytes has \(count) chunks of \(chunkSize) bytes, but \(digests.count) "
                    + "digests were given; give one digest per chunk, the last chunk covering the rest of the disk")
        }
        self.chunkSize = chunkSize
        self.logicalSize = logicalSize
        self.digests = digests
    }

    /// The number of chunks of a disk: the last one may be short.
    public static func chunkCount(logicalSize: UInt64, chunkSize: Int) -> Int {
        // No `+ chunkSize - 1`: a damaged header may hold any size, and this must not overflow on it.
        let size = UInt64(chunkSize)
        return Int(logicalSize / size + (logicalSize % size == 0 ? 0 : 1))
    }

    /// The number of chunks.
    public var chunkCount: Int { digests.count }

    /// The digest of chunk `index`.
    public subscript(index: Int) -> ChunkDigest {
        get { digests[index] }
        set { digests[index] = newValue }
    }

    /// The disk bytes chunk `index` covers.
    public func range(ofChunk index: Int) -> Range<UInt64> {
        let start = UInt64(index) * UInt64(chunkSize)
        return start..<min(start + UInt64(chunkSize), logicalSize)
    }

    /// The file's bytes.
    public func encoded() -> [UInt8] {
        var table: [UInt8] = []
        table.reserveCapacity(digests.count * ChunkDigest.byteCount)
        for digest in digests { digest.append(to: &table) }
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerSize + table.count)
        withUnsafeBytes(of: Self.version.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [0, 0])
        withUnsafeBytes(of: UInt32(chunkSize).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [0, 0, 0, 0])
        withUnsafeBytes(of: logicalSize.littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt64(digests.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: SHA256.hash(data: table))
        bytes.append(contentsOf: table)
        return bytes
    }

    /// Reads an index file's bytes, checking magic, version, sizes and the digest table's checksum. `source` names
    /// the file in errors.
    public init(decoding bytes: [UInt8], source: String) throws(DatastoreError) {
        func corrupt(_ problem: String) -> DatastoreError {
            DatastoreError(
                .indexCorrupt,
                "index \(source) \(problem); the recovery point is damaged: delete it, or restore the file from "
                    + "a copy of the datastore")
        }
        guard bytes.count >= Self.headerSize, Array(bytes[0..<4]) == Self.magic else {
            throw corrupt("is not a Bulwark fixed index (bad magic or too short: \(bytes.count) bytes)")
        }
        let header = bytes.withUnsafeBytes { buffer in
            (
                version: UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)),
                chunkSize: Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt32.self))),
                logicalSize: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                count: UInt64(littleEndian: buffer.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            )
        }
        guard header.version == Self.version else {
            throw corrupt("has format version \(header.version); this Bulwark reads version \(Self.version)")
        }
        guard (try? DatastoreConfiguration.validate(chunkSize: header.chunkSize)) != nil else {
            throw corrupt("names an impossible chunk size \(header.chunkSize)")
        }
        let expected = Self.chunkCount(logicalSize: header.logicalSize, chunkSize: header.chunkSize)
        guard header.count == UInt64(expected),
            bytes.count == Self.headerSize + expected * ChunkDigest.byteCount
        else {
            throw corrupt(
                "has \(bytes.count) bytes and says \(header.count) chunks; a disk of \(header.logicalSize) bytes "
                    + "needs \(expected) chunks (\(Self.headerSize + expected * ChunkDigest.byteCount) bytes)")
        }
        let table = bytes[Self.headerSize...]
        guard Array(SHA256.hash(data: table)) == Array(bytes[32..<64]) else {
            throw corrupt("fails its checksum (the digest table changed)")
        }
        var digests: [ChunkDigest] = []
        digests.reserveCapacity(expected)
        bytes.withUnsafeBytes { buffer in
            for index in 0..<expected {
                let offset = Self.headerSize + index * ChunkDigest.byteCount
                digests.append(ChunkDigest(loading: UnsafeRawBufferPointer(rebasing: buffer[offset...])))
            }
        }
        chunkSize = header.chunkSize
        logicalSize = header.logicalSize
        self.digests = digests
    }
}
