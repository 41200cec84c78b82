import Zstd

/// The bytes of a chunk file: a 16-byte header, then the payload.
///
/// ```
/// offset  size  field
///      0     4  magic "BWCK"
///      4     2  format version (1), little-endian
///      6     1  codec: 0 raw, 1 zstd
///      7     1  reserved, 0
///      8     4  plain length, little-endian
///     12     4  CRC-32 of the payload, little-endian
///     16     …  payload
/// ```
///
/// The CRC covers the stored bytes so that verification can tell a damaged file (bit rot, a torn copy) from a chunk
/// filed under the wrong digest, and can do so before decompressing.
package struct ChunkFile {
    package enum Codec: UInt8 {
        case raw = 0
        case zstd = 1
    }

    package static let magic: [UInt8] = Array("BWCK".utf8)
    package static let version: UInt16 = 1
    package static let headerSize = 16

    package var codec: Codec
    package var plainLength: Int
    package var payload: [UInt8]

    /// Compresses `plain` with zstd level 1, keeping it raw when that does not make it smaller.
    ///
    /// A large chunk is compressed only when one of three samples (start, middle, end) shrinks by at least 3%:
    /// encrypted or already compressed data (most of a full backup of such disks) then costs no futile zstd pass.
    package static func encoding(_ plain: [UInt8]) -> ChunkFile {
        if worthCompressing(plain), let packed = try? Zstd.compress(plain, level: 1), packed.count < plain.count {
            return ChunkFile(codec: .zstd, plainLength: plain.count, payload: packed)
        }
        return ChunkFile(codec: .raw, plainLength: plain.count, payload: plain)
    }

    package static let sampleSize = 64 << 10

    /// Whether any of three samples of `plain` compresses by at least 3%; always true below four samples' size.
    package static func worthCompressing(_ plain: [UInt8]) -> Bool {
        guard plain.count >= 4 * sampleSize else { return true }
        for start in [0, plain.count / 2 - sampleSize / 2, plain.count - sampleSize] {
            let sample = Array(plain[start..<(start + sampleSize)])
            if let packed = try? Zstd.compress(sample, level: 1), packed.count < sample.count * 97 / 100 { return true }
        }
        return false
    }

    /// The file's bytes: header and payload.
    package var bytes: [UInt8] {
        var bytes = headerBytes
        bytes.reserveCapacity(Self.headerSize + payload.count)
        bytes.append(contentsOf: payload)
        return bytes
    }

    /// The file's 16-byte header, CRC-32 of the payload included.
    package var headerBytes: [UInt8] {
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerSize)
        withUnsafeBytes(of: Self.version.littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(codec.rawValue)
        bytes.append(0)
        withUnsafeBytes(of: UInt32(plainLength).littleEndian) { bytes.append(contentsOf: $0) }
        withUnsafeBytes(of: CRC32.checksum(payload).littleEndian) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The header fields of a chunk file; `nil` when the header is damaged.
    package static func header(of bytes: [UInt8]) -> (codec: Codec, plainLength: Int, crc: UInt32)? {
        guard bytes.count >= headerSize, Array(bytes[0..<4]) == magic else { return nil }
        return bytes.withUnsafeBytes { buffer in
            guard UInt16(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) == version,
                let codec = Codec(rawValue: buffer[6])
            else { return nil }
            let plainLength = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            let crc = UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
            return (codec, plainLength, crc)
        }
    }

    /// Checks and decodes a chunk file's bytes into the chunk's plain bytes; `path` names the file in errors.
    ///
    /// The CRC covers the payload only, so a damaged plain length is caught by its bound (no chunk is larger than
    /// `maximumLength`, and a flipped length must not make us allocate gigabytes) and by decoding to another length.
    package static func decode(
        _ bytes: [UInt8], digest: ChunkDigest, path: String, maximumLength: Int
    ) throws(DatastoreError) -> [UInt8] {
        Array(try plain(of: bytes, digest: digest, path: path, maximumLength: maximumLength))
    }

    /// Checks a chunk file as ``decode(_:digest:path:maximumLength:)`` does and returns its plain length (the check
    /// a server makes of every upload).
    package static func check(
        _ bytes: [UInt8], digest: ChunkDigest, path: String, maximumLength: Int
    ) throws(DatastoreError) -> Int {
        try plain(of: bytes, digest: digest, path: path, maximumLength: maximumLength).count
    }

    /// Checks a chunk file as ``decode(_:digest:path:maximumLength:)`` does; a raw payload is checked and returned
    /// where it lies in `bytes` instead of being copied out.
    package static func plain(
        of bytes: [UInt8], digest: ChunkDigest, path: String, maximumLength: Int
    ) throws(DatastoreError) -> ArraySlice<UInt8> {
        let fix = "run a verify; the next sync of a VM that still has this data stores the chunk again"
        guard let header = header(of: bytes), header.plainLength <= maximumLength else {
            throw DatastoreError(
                .chunkCorrupt, "chunk \(digest) at \(path) has a damaged header (\(bytes.count) bytes); \(fix)",
                digest: digest)
        }
        let crc = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[headerSize...])) }
        guard crc == header.crc else {
            throw DatastoreError(
                .chunkCorrupt,
                "chunk \(digest) at \(path) fails its CRC-32 check (the stored bytes changed or were cut short); \(fix)",
                digest: digest)
        }
        let plain: ArraySlice<UInt8>
        switch header.codec {
        case .raw:
            guard bytes.count - headerSize == header.plainLength else {
                throw DatastoreError(
                    .chunkCorrupt, "chunk \(digest) at \(path) holds \(bytes.count - headerSize) raw bytes, "
                        + "its header says \(header.plainLength); \(fix)", digest: digest)
            }
            plain = bytes[headerSize...]
        case .zstd:
            do {
                plain = ArraySlice(try Zstd.decompress(Array(bytes[headerSize...]), expectedLength: header.plainLength))
            } catch {
                throw DatastoreError(
                    .chunkCorrupt, "chunk \(digest) at \(path) does not decompress; \(fix)", digest: digest, cause: error)
            }
        }
        guard plain.withUnsafeBytes({ ChunkDigest.of($0) }) == digest else { throw mismatch(digest, path: path, fix: fix) }
        return plain
    }

    private static func mismatch(_ digest: ChunkDigest, path: String, fix: String) -> DatastoreError {
        DatastoreError(
            .digestMismatch,
            "chunk \(digest) at \(path) decodes to data with another SHA-256 (written under the wrong name?); \(fix)",
            digest: digest)
    }
}
