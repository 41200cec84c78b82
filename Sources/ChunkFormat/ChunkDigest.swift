internal import Crypto
import Synchronization

/// The SHA-256 of a chunk's plain bytes: its name in the datastore.
///
/// Held as four big-endian words so that hashing and comparing (the mark phase of garbage collection keeps a set
/// of every live digest) do not allocate, and so that ordering matches the hex text.
public struct ChunkDigest: Hashable, Comparable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// The number of bytes in a digest.
    public static let byteCount = 32

    /// A digest from its 32 bytes; `nil` when `bytes` has another length.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: [UInt64] = [0, 0, 0, 0]
        for (index, byte) in bytes.enumerated() { words[index / 8] = words[index / 8] << 8 | UInt64(byte) }
        self.words = (words[0], words[1], words[2], words[3])
    }

    /// A digest from its 32 bytes at the start of `buffer`.
    package init(loading buffer: UnsafeRawBufferPointer) {
        func word(_ index: Int) -> UInt64 {
            UInt64(bigEndian: buffer.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
        }
        words = (word(0), word(1), word(2), word(3))
    }

    /// Parses 64 hex digits (either case).
    public init?(_ description: String) {
        let utf8 = Array(description.utf8)
        guard utf8.count == 2 * Self.byteCount else { return nil }
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        for index in 0..<Self.byteCount {
            guard let high = Self.nibble(utf8[2 * index]), let low = Self.nibble(utf8[2 * index + 1]) else { return nil }
            bytes[index] = high << 4 | low
        }
        self.init(bytes: bytes)
    }

    /// The SHA-256 of `bytes`.
    public static func of(_ bytes: [UInt8]) -> ChunkDigest {
        SHA256.hash(data: bytes).withUnsafeBytes { ChunkDigest(loading: $0) }
    }

    /// The SHA-256 of the bytes in `buffer`.
    public static func of(_ buffer: UnsafeRawBufferPointer) -> ChunkDigest {
        SHA256.hash(data: buffer).withUnsafeBytes { ChunkDigest(loading: $0) }
    }

    /// The digest that stands for a chunk of `chunkSize` zero bytes. Such chunks are never stored: an index that
    /// names this digest means zeros.
    public static func zero(chunkSize: Int) -> ChunkDigest {
        // Every datastore open (one per upload on the server) and every sync needs it: a hash of megabytes of zeros.
        if let known = zeroDigests.withLock({ $0[chunkSize] }) { return known }
        let digest = of([UInt8](repeating: 0, count: chunkSize))
        zeroDigests.withLock { $0[chunkSize] = digest }
        return digest
    }

    private static let zeroDigests = Mutex<[Int: ChunkDigest]>([:])

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return bytes
    }

    /// Appends the 32 bytes to `buffer`.
    package func append(to buffer: inout [UInt8]) {
        for word in [words.0, words.1, words.2, words.3] {
            withUnsafeBytes(of: word.bigEndian) { buffer.append(contentsOf: $0) }
        }
    }

    /// Lower-case hex, the chunk's file name.
    public var description: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(2 * Self.byteCount)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    public static func == (lhs: ChunkDigest, rhs: ChunkDigest) -> Bool {
        lhs.words == rhs.words
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    public static func < (lhs: ChunkDigest, rhs: ChunkDigest) -> Bool {
        lhs.words < rhs.words
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let digest = ChunkDigest(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not 64 hex digits: \(text)")
        }
        self = digest
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
